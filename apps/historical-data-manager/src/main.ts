import { runService } from '@tributary/service';
import { AppModule } from './app/app.module';
import { historicalDataManagerEnv } from './config';

void runService({
  service: 'historical-data-manager',
  env: historicalDataManagerEnv,
  module: (config) => AppModule.forRoot(config),
  consumer: true,
});
