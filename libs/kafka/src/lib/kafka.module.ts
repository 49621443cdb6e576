import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { createLogger, TributaryMetrics } from '@tributary/observability';
import { KafkaHealthIndicator } from './health/kafka-health.indicator';
import { KAFKA_LOGGER } from './kafka-logger';
import { KafkaTopicsState } from './kafka-topics-state';
import { KAFKA_CONNECTION, KAFKA_MODULE_OPTIONS, type KafkaModuleOptions } from './kafka.tokens';
import { type KafkaConnection, kafkaConnection } from './kafka-connection';
import { TypedProducer } from './producer/typed-producer';

/**
 * Flushes and disconnects the producer at the very end of shutdown: Nest stops the Kafka consumer
 * (which finishes its batch, whose handlers may still produce) before `onApplicationShutdown`.
 */
@Injectable()
class ProducerShutdown implements OnApplicationShutdown {
  constructor(@Inject(TypedProducer) private readonly producer: TypedProducer) {}

  onApplicationShutdown(): Promise<void> {
    return this.producer.disconnect();
  }
}

/**
 * The Kafka plumbing of a service, for its root module:
 *
 * ```ts
 * KafkaModule.forRoot({ service: 'options-collector', config, ensureTopics: true })
 * ```
 *
 * provides the connection settings (`@Inject(KAFKA_CONNECTION)`), the {@link TypedProducer} and
 * the {@link KafkaHealthIndicator}, everywhere in the app. Nothing here connects at boot: the producer
 * connects on its first send and topics are ensured in the background, so an absent cluster shows
 * in the health check, not as a crash.
 */
@Module({})
export class KafkaModule {
  static forRoot(options: KafkaModuleOptions): DynamicModule {
    const providers: Provider[] = [
      { provide: KAFKA_MODULE_OPTIONS, useValue: options },
      {
        provide: KAFKA_LOGGER,
        useFactory: (): Logger => options.logger ?? createLogger(options.service, options.config.LOG_LEVEL ?? 'info'),
      },
      {
        provide: KAFKA_CONNECTION,
        useFactory: (): KafkaConnection => options.connection ?? kafkaConnection(options.config, options.service),
      },
      {
        provide: TypedProducer,
        useFactory: (connection: KafkaConnection, logger: Logger, metrics?: TributaryMetrics): TypedProducer =>
          new TypedProducer(connection, {
            instanceId: options.config.INSTANCE_ID,
            lingerMs: options.config.KAFKA_PRODUCER_LINGER_MS,
            maxBatchBytes: options.config.KAFKA_PRODUCER_MAX_BATCH_BYTES,
            deliveryTimeoutMs: options.config.KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS,
            validate: options.config.KAFKA_VALIDATE_EVENTS,
            metrics,
            logger,
            ...options.producer,
            service: options.service,
          }),
        inject: [KAFKA_CONNECTION, KAFKA_LOGGER, { token: TributaryMetrics, optional: true }],
      },
      ProducerShutdown,
      KafkaTopicsState,
      KafkaHealthIndicator,
    ];
    return {
      module: KafkaModule,
      global: true,
      providers,
      exports: [KAFKA_CONNECTION, KAFKA_LOGGER, TypedProducer, KafkaHealthIndicator, KafkaTopicsState],
    };
  }
}
