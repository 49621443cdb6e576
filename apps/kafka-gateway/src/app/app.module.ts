import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceCoreModule } from '@tributary/service';
import type { KafkaGatewayConfig } from '../config';
import { HealthController } from './health.controller';

@Module({})
export class AppModule {
  static forRoot(config: KafkaGatewayConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ServiceCoreModule.forRoot({ service: 'kafka-gateway', config, ensureTopics: true })],
      controllers: [HealthController],
    };
  }
}
