import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceCoreModule } from '@tributary/service';
import type { HistoricalDataManagerConfig } from '../config';
import { ArchiveModule } from './archive/archive.module';
import { ArchiveHealthIndicator } from './archive/archive.health';
import { BatchModule } from './batch/batch.module';
import { HealthController } from './health.controller';
import { IntegrityModule } from './integrity/integrity.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { QueryModule } from './query/query.module';

@Module({})
export class AppModule {
  static forRoot(config: HistoricalDataManagerConfig): DynamicModule {
    const archive = ArchiveModule.forRoot(config);
    return {
      module: AppModule,
      imports: [
        ServiceCoreModule.forRoot({ service: 'historical-data-manager', config, postgres: true, s3: true }),
        archive,
        QueryModule.forRoot(archive),
        LifecycleModule.forRoot(archive),
        IntegrityModule.forRoot(archive),
        BatchModule.forRoot(config),
      ],
      controllers: [HealthController],
      providers: [ArchiveHealthIndicator],
    };
  }
}
