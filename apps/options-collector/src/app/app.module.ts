import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceCoreModule } from '@tributary/service';
import type { OptionsCollectorConfig } from '../config';
import { HealthController } from './health.controller';

@Module({})
export class AppModule {
  static forRoot(config: OptionsCollectorConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ServiceCoreModule.forRoot({ service: 'options-collector', config })],
      controllers: [HealthController],
    };
  }
}
