import { runService } from '@tributary/service';
import { AppModule } from './app/app.module';
import { cdcListenerEnv } from './config';

void runService({
  service: 'cdc-listener',
  env: cdcListenerEnv,
  module: (config) => AppModule.forRoot(config),
  consumer: false,
});
