import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceCoreModule } from '@tributary/service';
import type { CepEngineConfig } from '../config';
import { CepModule } from './cep.module';
import { HealthController } from './health.controller';

@Module({})
export class AppModule {
  static forRoot(config: CepEngineConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ServiceCoreModule.forRoot({ service: 'cep-engine', config }), CepModule.forRoot(config)],
      controllers: [HealthController],
    };
  }
}
