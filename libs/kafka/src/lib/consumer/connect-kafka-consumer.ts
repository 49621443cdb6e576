import type { INestApplication, INestMicroservice } from '@nestjs/common';
import { KafkaHandlerErrorFilter } from './handler-error-filter';
import { KafkaBatchServer, type KafkaBatchServerOptions } from './kafka-batch-server';

/**
 * Connects a {@link KafkaBatchServer} to a hybrid app (HTTP for health and metrics, Kafka for
 * events) with {@link KafkaHandlerErrorFilter} installed, so a handler's real error reaches the
 * retry policy and the DLQ headers. Start it with `app.startAllMicroservices()`.
 *
 * ```ts
 * const app = await NestFactory.create(AppModule, { bufferLogs: true });
 * app.enableShutdownHooks();
 * connectKafkaConsumer(app, { service: 'cep-engine', groupId: 'cep-engine', config, metrics });
 * await app.startAllMicroservices();
 * await app.listen(config.PORT);
 * ```
 */
export function connectKafkaConsumer(
  app: INestApplication,
  server: KafkaBatchServer | KafkaBatchServerOptions,
): { microservice: INestMicroservice; server: KafkaBatchServer } {
  const strategy = server instanceof KafkaBatchServer ? server : new KafkaBatchServer(server);
  // Deferred so the filter is in place before Nest wraps the handlers; then finished the way
  // connectMicroservice finishes a hybrid microservice (the app itself runs the lifecycle hooks).
  const microservice = app.connectMicroservice({ strategy }, { deferInitialization: true });
  microservice.useGlobalFilters(new KafkaHandlerErrorFilter());
  const hybrid = microservice as INestMicroservice & {
    registerListeners(): void;
    setIsInitialized(value: boolean): void;
    setIsInitHookCalled(value: boolean): void;
  };
  hybrid.registerListeners();
  hybrid.setIsInitialized(true);
  hybrid.setIsInitHookCalled(true);
  return { microservice, server: strategy };
}
