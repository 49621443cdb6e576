import type { Logger } from 'pino';
import type { TopicSpec } from '@tributary/contracts';
import type { KafkaConnection } from './kafka-connection';
import type { KafkaEnvConfig } from './kafka-env';
import type { TypedProducerOptions } from './producer/typed-producer';

/** Injection token of the service's {@link KafkaConnection} settings (the typed producer connects with them). */
export const KAFKA_CONNECTION = Symbol('tributary.kafkaConnection');
/** Injection token of the {@link KafkaModuleOptions}. */
export const KAFKA_MODULE_OPTIONS = Symbol('tributary.kafkaModuleOptions');

export interface KafkaModuleOptions {
  /** Service name: client id, logs and the `producer` header. */
  readonly service: string;
  /** The service's parsed configuration (kafkaEnv, and INSTANCE_ID / LOG_LEVEL when merged with serviceEnv). */
  readonly config: KafkaEnvConfig & { readonly INSTANCE_ID?: string; readonly LOG_LEVEL?: string };
  /**
   * Create missing topics on start: `true` for the whole catalog and its DLQs, or a list of specs.
   * Runs in the background with retries; health reports down until it succeeded.
   */
  readonly ensureTopics?: boolean | readonly TopicSpec[];
  /** Typed producer settings beyond those taken from `config`. */
  readonly producer?: Partial<Omit<TypedProducerOptions, 'service'>>;
  /** Time a Kafka health probe may take; default 3 s. */
  readonly healthTimeoutMs?: number;
  /** Logger of the Kafka clients and the module; default `createLogger(service, LOG_LEVEL)`. */
  readonly logger?: Logger;
  /** Connection settings to use instead of those of `config` (a broker address rewrite, tests). */
  readonly connection?: KafkaConnection;
}
