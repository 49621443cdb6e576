// Correlation IDs
export {
  currentCorrelationId,
  newCorrelationId,
  runWithCorrelationId,
} from './lib/correlation/correlation-id';
export {
  CORRELATION_ID_HEADER,
  REQUEST_ID_HEADER,
  CorrelationIdMiddleware,
  correlationIdForRequest,
  correlationIdMiddleware,
} from './lib/correlation/http-correlation';

// Logs
export {
  createLogger,
  REDACTED,
  SECRET_LOG_KEYS,
  SECRET_LOG_PATHS,
  type CreateLoggerOptions,
} from './lib/logging/logger';
export { LoggingModule, requestLogLevel, type LoggingModuleOptions } from './lib/logging/logging.module';

// Metrics
export {
  createMetricsRegistry,
  HANDLER_DURATION_BUCKETS,
  KAFKA_METRIC_NAMES,
  METRICS_REGISTRY,
  TributaryMetrics,
  type HandlerTimer,
  type MetricsRegistryOptions,
} from './lib/metrics/tributary-metrics';
export { MetricsController, MetricsModule, type MetricsModuleOptions } from './lib/metrics/metrics.module';

// Health
export {
  DEFAULT_PROBE_TIMEOUT_MS,
  describeError,
  raceTimeout,
  TimeoutError,
} from './lib/health/race-timeout';
export {
  POSTGRES_HEALTH_OPTIONS,
  PostgresHealthIndicator,
  type PostgresCheckOptions,
  type PostgresHealthOptions,
} from './lib/health/postgres.health';
export { createS3Client, type S3Config } from './lib/health/s3-client';
export { S3_HEALTH_OPTIONS, S3HealthIndicator, type S3HealthOptions } from './lib/health/s3.health';
export { ReadinessController, ReadinessFailure } from './lib/health/readiness.controller';
export { HealthModule, type HealthModuleOptions } from './lib/health/health.module';
export {
  DEFAULT_HEALTHCHECK_PATH,
  healthcheckUrl,
  probeHealth,
  type ProbeResult,
} from './lib/health/http-probe';
