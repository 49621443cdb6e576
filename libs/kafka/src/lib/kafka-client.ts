import { CompressionTypes, Kafka, logLevel, type KafkaConfig, type LogEntry, type RetryOptions, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { Compression } from '@tributary/contracts';
import { createLogger } from '@tributary/observability';
import { registerCompressionCodecs } from './codecs/register-codecs';
import { type KafkaConnection, kafkaConnection } from './kafka-connection';
import type { KafkaEnvConfig } from './kafka-env';

/**
 * Retries of one request (metadata, produce, fetch, commit): about 40 s of exponential backoff
 * before the caller sees the error, long enough to ride out a broker restart, short enough for a
 * health probe and a producer's caller to learn that the cluster is gone.
 */
export const KAFKA_CLIENT_RETRY: Readonly<RetryOptions> = {
  initialRetryTime: 300,
  maxRetryTime: 10_000,
  factor: 0.2,
  multiplier: 2,
  retries: 8,
};

// kafkajs warns about this on every idempotent producer; Tributary bounds retries on purpose (a
// send must fail visibly when the cluster is gone) and a resent batch reuses its sequence numbers.
const EXPECTED_KAFKAJS_WARNINGS = ['Limiting retries for the idempotent producer'];
/**
 * kafkajs logs every failed connection attempt as an error, several per second while a broker
 * restarts. They are retried, so they are warnings; what gives up is logged as an error by the
 * consumer, producer or health check that gave up.
 */
const RETRIED_NAMESPACES = new Set(['Connection', 'BrokerPool']);

function kafkajsLevelOf(logger: Logger): logLevel {
  switch (logger.level) {
    case 'silent':
      return logLevel.NOTHING;
    case 'fatal':
    case 'error':
      return logLevel.ERROR;
    case 'warn':
      return logLevel.WARN;
    case 'debug':
    case 'trace':
      return logLevel.DEBUG;
    default:
      return logLevel.INFO;
  }
}

/** Routes kafkajs' own log lines into a pino logger, as structured fields. */
export function kafkajsLogCreator(logger: Logger) {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _origin, ...fields } = log;
      const entry = { namespace, ...fields };
      switch (level) {
        case logLevel.ERROR:
          if (RETRIED_NAMESPACES.has(namespace)) kafkaLogger.warn(entry, message);
          else kafkaLogger.error(entry, message);
          break;
        case logLevel.WARN:
          if (EXPECTED_KAFKAJS_WARNINGS.some((warning) => message.startsWith(warning))) {
            kafkaLogger.debug(entry, message);
          } else {
            kafkaLogger.warn(entry, message);
          }
          break;
        case logLevel.INFO:
          kafkaLogger.info(entry, message);
          break;
        default:
          kafkaLogger.debug(entry, message);
      }
    };
}

/** kafkajs names the SASL mechanisms in lower case. */
function saslOf(connection: KafkaConnection): SASLOptions | undefined {
  const sasl = connection.sasl;
  if (sasl === undefined) return undefined;
  const username = String(sasl.username ?? '');
  const password = String(sasl.password ?? '');
  switch (sasl.mechanism) {
    case 'PLAIN':
      return { mechanism: 'plain', username, password };
    case 'SCRAM-SHA-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'SCRAM-SHA-512':
      return { mechanism: 'scram-sha-512', username, password };
    default:
      throw new Error(`SASL mechanism ${sasl.mechanism} is not supported by the kafkajs client`);
  }
}

/** The kafkajs client options a configuration stands for (exposed for tools that build their own client). */
export function kafkaClientConfig(config: KafkaEnvConfig, service: string, logger: Logger): KafkaConfig {
  const connection = kafkaConnection(config, service);
  return {
    clientId: connection.clientId,
    brokers: [...connection.brokers],
    ssl: connection.tls ?? false,
    sasl: saslOf(connection),
    connectionTimeout: config.KAFKA_CONNECTION_TIMEOUT_MS,
    authenticationTimeout: config.KAFKA_CONNECTION_TIMEOUT_MS,
    requestTimeout: config.KAFKA_REQUEST_TIMEOUT_MS,
    retry: { ...KAFKA_CLIENT_RETRY },
    logLevel: kafkajsLevelOf(logger),
    logCreator: kafkajsLogCreator(logger),
  };
}

/**
 * The kafkajs client of a service, from its validated configuration: brokers, SASL, TLS, timeouts,
 * retries, logs in the service's pino logger and the snappy/lz4/zstd codecs registered.
 * Throws a ConfigError naming the variables when they do not fit together.
 */
export function createKafka(config: KafkaEnvConfig, service: string, logger: Logger = createLogger(service)): Kafka {
  registerCompressionCodecs();
  return new Kafka(kafkaClientConfig(config, service, logger));
}

const COMPRESSION_TYPES: Readonly<Record<Compression, CompressionTypes>> = {
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
  producer: CompressionTypes.None,
};

/** The kafkajs codec of a catalog compression setting ('producer' leaves batches uncompressed). */
export function compressionTypeOf(compression: Compression | undefined): CompressionTypes {
  return compression === undefined ? CompressionTypes.None : COMPRESSION_TYPES[compression];
}
