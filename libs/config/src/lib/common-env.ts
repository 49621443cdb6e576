import { env } from './env';

/** Variables every Tributary service reads: its HTTP port, log level and instance identity. */
export function serviceEnv(defaultPort: number) {
  return {
    PORT: env.port({ default: defaultPort, description: 'HTTP port for health, metrics and APIs' }),
    LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, {
      default: 'info',
      description: 'Minimum level of the JSON logs written to stdout',
    }),
    INSTANCE_ID: env.optionalString({
      description: 'Name of this instance in logs, metrics and produced headers (default: the host name, the pod name on Kubernetes)',
    }),
    SHUTDOWN_TIMEOUT_MS: env.durationMs({
      default: '25s',
      description: 'How long a SIGTERM may take to finish the batch in flight, commit and disconnect',
    }),
  };
}

/** PostgreSQL connection of the services that keep state there. */
export const postgresEnv = {
  DATABASE_URL: env.url({
    default: 'postgres://postgres@127.0.0.1:5432/tributary',
    protocols: ['postgres', 'postgresql'],
    description: 'PostgreSQL connection URL',
    secret: true,
  }),
  DATABASE_STATEMENT_TIMEOUT_MS: env.durationMs({
    default: '30s',
    min: 0,
    description:
      'statement_timeout of this service\'s PostgreSQL sessions: the server cancels a statement running longer (0: no limit); connections that must run long (logical replication, slot creation, migrations) are exempt',
  }),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.durationMs({
    default: '60s',
    min: 0,
    description:
      'idle_in_transaction_session_timeout of this service\'s PostgreSQL sessions: the server ends a session left this long idle inside a transaction (0: no limit); readers holding a snapshot open on purpose are exempt',
  }),
};

/** S3 (MinIO or any S3-compatible server) connection. */
export const s3Env = {
  S3_ENDPOINT: env.url({
    default: 'http://127.0.0.1:9000',
    protocols: ['http', 'https'],
    description: 'S3 endpoint; path-style addressing is used for S3-compatible servers',
  }),
  S3_REGION: env.string({ default: 'us-east-1', description: 'S3 region' }),
  S3_ACCESS_KEY_ID: env.string({ default: 'tributary', description: 'S3 access key id' }),
  S3_SECRET_ACCESS_KEY: env.string({ default: 'tributary-secret', description: 'S3 secret key', secret: true }),
  S3_BUCKET: env.string({ default: 'tributary-archive', description: 'Bucket holding the Parquet archive' }),
  S3_FORCE_PATH_STYLE: env.bool({ default: true, description: 'Path-style addressing (MinIO, S3Proxy)' }),
};
