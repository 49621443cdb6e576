import { type DynamicModule, Module } from '@nestjs/common';
import { producedTopicSpecs } from '@tributary/contracts';
import { ServiceCoreModule } from '@tributary/service';
import { CollectorModule } from '../collector/collector.module';
import type { OptionsCollectorConfig } from '../config';
import { HealthController } from './health.controller';

@Module({})
export class AppModule {
  static forRoot(config: OptionsCollectorConfig): DynamicModule {
    return {
      module: AppModule,
      // ensureTopics: the collector may start before kafka-gateway has applied the catalog; it creates
      // the topics it writes (its Kafka user may create no others).
      imports: [
        ServiceCoreModule.forRoot({ service: 'options-collector', config, ensureTopics: producedTopicSpecs('options-collector') }),
        CollectorModule.forRoot(config),
      ],
      controllers: [HealthController],
    };
  }
}
