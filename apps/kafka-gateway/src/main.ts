import { runService } from '@tributary/service';
import { AppModule } from './app/app.module';
import { kafkaGatewayEnv } from './config';

void runService({
  service: 'kafka-gateway',
  env: kafkaGatewayEnv,
  module: (config) => AppModule.forRoot(config),
  consumer: true,
});
