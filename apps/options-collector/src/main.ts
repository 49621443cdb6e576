import { runService } from '@tributary/service';
import { AppModule } from './app/app.module';
import { optionsCollectorConfigIssues, optionsCollectorEnv } from './config';

void runService({
  service: 'options-collector',
  env: optionsCollectorEnv,
  module: (config) => AppModule.forRoot(config),
  consumer: false,
  configIssues: optionsCollectorConfigIssues,
});
