import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceCoreModule } from '@tributary/service';
import type { CdcListenerConfig } from '../config';
import { CDC_CONFIG, ChangeCaptureService } from './capture/change-capture.service';
import { ReplicationSlotHealthIndicator } from './capture/replication-slot.health';
import { AuditController } from './audit/audit.controller';
import { HealthController } from './health.controller';
import { SnapshotsController } from './snapshots/snapshots.controller';
import { TradingPool } from './trading-schema/trading-pool';

@Module({})
export class AppModule {
  static forRoot(config: CdcListenerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ServiceCoreModule.forRoot({ service: 'cdc-listener', config, postgres: true })],
      controllers: [HealthController, SnapshotsController, AuditController],
      providers: [
        { provide: CDC_CONFIG, useValue: config },
        ChangeCaptureService,
        ReplicationSlotHealthIndicator,
        TradingPool,
      ],
    };
  }
}
