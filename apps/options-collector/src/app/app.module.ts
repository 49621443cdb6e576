import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceCoreModule } from '@tributary/service';
import { CollectorModule } from '../collector/collector.module';
import type { OptionsCollectorConfig } from '../config';
import { HealthController } from './health.controller';

@Module({})
export class AppModule {
  static forRoot(config: OptionsCollectorConfig): DynamicModule {
    return {
      module: AppModule,
      // ensureTopics: the collector may start before kafka-gateway has applied the catalog.
      imports: [
        ServiceCoreModule.forRoot({ service: 'options-collector', config, ensureTopics: true }),
        CollectorModule.forRoot(config),
      ],
      controllers: [HealthController],
    };
  }
}
