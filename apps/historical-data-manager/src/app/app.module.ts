import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceCoreModule } from '@tributary/service';
import type { HistoricalDataManagerConfig } from '../config';
import { ArchiveModule } from './archive/archive.module';
import { HealthController } from './health.controller';

@Module({})
export class AppModule {
  static forRoot(config: HistoricalDataManagerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ServiceCoreModule.forRoot({ service: 'historical-data-manager', config, postgres: true, s3: true }),
        ArchiveModule.forRoot(config),
      ],
      controllers: [HealthController],
    };
  }
}
