import { existsSync } from 'node:fs';
import { ConfigError, env, parseEnv, type ConfigIssue, type ConfigOf } from '@tributary/config';

export const SASL_MECHANISMS = ['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanismSetting = (typeof SASL_MECHANISMS)[number];

/**
 * Kafka connection and client behaviour of a service, read from the environment. Merge it with the
 * service's own spec (`mergeSpecs(serviceEnv(3104), kafkaEnv)`), then pass the parsed config to
 * {@link assertKafkaConfig} (or let `kafkaConnection` do it) for the checks that span several variables.
 */
export const kafkaEnv = {
  KAFKA_BROKERS: env.hostPorts({
    default: '127.0.0.1:9092',
    description: 'Bootstrap brokers, comma-separated host:port',
  }),
  KAFKA_CLIENT_ID: env.optionalString({
    description: 'Client id the brokers see in their logs and quotas (default: the service name)',
  }),
  KAFKA_SASL_MECHANISM: env.oneOf(SASL_MECHANISMS, {
    default: 'none',
    description: 'SASL mechanism: none, plain, scram-sha-256 or scram-sha-512',
  }),
  KAFKA_SASL_USERNAME: env.optionalString({ description: 'SASL user name (required with a SASL mechanism)' }),
  KAFKA_SASL_PASSWORD: env.optionalString({
    description: 'SASL password (required with a SASL mechanism)',
    secret: true,
  }),
  KAFKA_TLS: env.bool({ default: false, description: 'Connect to the brokers over TLS' }),
  KAFKA_TLS_CA_FILE: env.optionalString({
    description: 'PEM file of the CA that signed the broker certificates (default: the system CAs)',
  }),
  KAFKA_TLS_REJECT_UNAUTHORIZED: env.bool({
    default: true,
    description: 'Refuse brokers whose certificate does not verify against the CA',
  }),
  KAFKA_CONNECTION_TIMEOUT_MS: env.durationMs({
    default: '5s',
    min: 100,
    description: 'Time allowed to open a connection to a broker (TLS and SASL included)',
  }),
  KAFKA_REQUEST_TIMEOUT_MS: env.durationMs({
    default: '30s',
    min: 100,
    description: 'Time allowed for a broker to answer one request',
  }),
  KAFKA_SESSION_TIMEOUT_MS: env.durationMs({
    default: '30s',
    min: 6_000,
    max: 300_000,
    description:
      "How long a consumer group waits for a silent member (a crashed pod) before handing its partitions to the others, within the broker's group.min/max.session.timeout.ms (6 s to 5 min by default); the CEP engine's input lanes keep 10 s and the gateway's candle aggregator 30 s",
  }),
  KAFKA_REPLICATION_FACTOR: env.int({
    default: 1,
    min: 1,
    max: 32,
    description: 'Replication factor of the topics this service creates from the catalog',
  }),
  KAFKA_PRODUCER_LINGER_MS: env.durationMs({
    default: '5ms',
    description: 'How long the typed producer waits to coalesce concurrent sends into one request',
  }),
  KAFKA_PRODUCER_MAX_BATCH_BYTES: env.int({
    default: 1_000_000,
    min: 1024,
    max: 64 * 1024 * 1024,
    description: 'Largest request the typed producer sends (keep below the broker message.max.bytes)',
  }),
  KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS: env.durationMs({
    default: '30s',
    min: 1_000,
    description:
      'How long the typed producer keeps trying a request the brokers refuse for now or cannot be reached for, before the send fails (as delivery.timeout.ms of the Java client)',
  }),
  KAFKA_VALIDATE_EVENTS: env.bool({
    default: true,
    description: 'Validate produced and consumed events against the catalog schema; off only where a benchmark shows it matters, as anything with Kafka access could then write unchecked events',
  }),
  KAFKA_HANDLER_MAX_ATTEMPTS: env.int({
    default: 5,
    min: 1,
    max: 1000,
    description: 'Times a consumer tries a failing record before it goes to the dead-letter topic',
  }),
  KAFKA_HANDLER_RETRY_BASE_MS: env.durationMs({
    default: '200ms',
    description: 'Delay before the second attempt; doubles on every further attempt',
  }),
  KAFKA_HANDLER_RETRY_MAX_MS: env.durationMs({
    default: '30s',
    description: 'Longest delay between two attempts of a failing record',
  }),
};

export type KafkaEnvConfig = ConfigOf<typeof kafkaEnv>;

/**
 * Problems that only show when variables are read together, each naming the variable to fix.
 * Empty when the configuration is consistent.
 */
export function kafkaConfigIssues(config: KafkaEnvConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (config.KAFKA_SASL_MECHANISM !== 'none') {
    const needs = `is required when KAFKA_SASL_MECHANISM=${config.KAFKA_SASL_MECHANISM}`;
    if (!config.KAFKA_SASL_USERNAME) issues.push({ variable: 'KAFKA_SASL_USERNAME', message: needs });
    if (!config.KAFKA_SASL_PASSWORD) issues.push({ variable: 'KAFKA_SASL_PASSWORD', message: needs });
  }
  // Credentials and a CA file are simply unused without SASL or TLS: one env file may serve several listeners.
  if (config.KAFKA_TLS && config.KAFKA_TLS_CA_FILE !== undefined && !existsSync(config.KAFKA_TLS_CA_FILE)) {
    issues.push({ variable: 'KAFKA_TLS_CA_FILE', message: `file not found: ${config.KAFKA_TLS_CA_FILE}` });
  }
  if (config.KAFKA_HANDLER_RETRY_MAX_MS < config.KAFKA_HANDLER_RETRY_BASE_MS) {
    issues.push({
      variable: 'KAFKA_HANDLER_RETRY_MAX_MS',
      message: `must be at least KAFKA_HANDLER_RETRY_BASE_MS (${config.KAFKA_HANDLER_RETRY_BASE_MS} ms)`,
    });
  }
  return issues;
}

/** Throws a {@link ConfigError} listing every cross-variable problem of a parsed Kafka config. */
export function assertKafkaConfig(config: KafkaEnvConfig): void {
  const issues = kafkaConfigIssues(config);
  if (issues.length > 0) throw new ConfigError(issues);
}

/** Parses and checks the Kafka variables alone (each variable, then the ones that go together). */
export function parseKafkaEnv(
  source: Readonly<Record<string, string | undefined>> = process.env,
): KafkaEnvConfig {
  const config = parseEnv(kafkaEnv, source);
  assertKafkaConfig(config);
  return config;
}
