import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceCoreModule } from '@tributary/service';
import type { CdcListenerConfig } from '../config';
import { CDC_CONFIG, ChangeCaptureService } from './capture/change-capture.service';
import { ReplicationSlotHealthIndicator } from './capture/replication-slot.health';
import { HealthController } from './health.controller';

@Module({})
export class AppModule {
  static forRoot(config: CdcListenerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ServiceCoreModule.forRoot({ service: 'cdc-listener', config, postgres: true })],
      controllers: [HealthController],
      providers: [{ provide: CDC_CONFIG, useValue: config }, ChangeCaptureService, ReplicationSlotHealthIndicator],
    };
  }
}
