import { runService } from '@tributary/service';
import { AppModule } from './app/app.module';
import { cepEngineEnv } from './config';

void runService({
  service: 'cep-engine',
  env: cepEngineEnv,
  module: (config) => AppModule.forRoot(config),
});
