import { hostname } from 'node:os';
import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { currentCorrelationId } from '../correlation/correlation-id';

/**
 * Property names whose values never reach a log line, wherever they appear in the first three
 * levels of a logged object (pino redaction needs explicit paths, hence the list and depths).
 * Includes the names Tributary's own configuration uses for its secrets.
 */
export const SECRET_LOG_KEYS: readonly string[] = [
  'password',
  'passwd',
  'secret',
  'secretKey',
  'secretAccessKey',
  'clientSecret',
  'apiKey',
  'apiSecret',
  'apiSecretKey',
  'token',
  'accessToken',
  'refreshToken',
  'sessionToken',
  'authorization',
  'Authorization',
  'cookie',
  'DATABASE_URL',
  'S3_SECRET_ACCESS_KEY',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_TLS_TRUSTSTORE_PASSWORD',
];

/** Request and response headers that carry credentials (pino-http logs `req` and `res`). */
const SECRET_HEADER_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'req.headers["apca-api-key-id"]',
  'req.headers["apca-api-secret-key"]',
  'res.headers["set-cookie"]',
];

const REDACTION_DEPTH = 3;

/** Every redacted path: each secret key at depths 0..2, plus the credential headers. */
export const SECRET_LOG_PATHS: readonly string[] = [
  ...SECRET_LOG_KEYS.flatMap((key) =>
    Array.from({ length: REDACTION_DEPTH }, (_, depth) => [...Array<string>(depth).fill('*'), key].join('.')),
  ),
  ...SECRET_HEADER_PATHS,
];

export const REDACTED = '[REDACTED]';

export interface CreateLoggerOptions {
  /** Instance name on every line; defaults to INSTANCE_ID, then HOSTNAME (the pod name), then the host name. */
  instance?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read them back. */
  destination?: DestinationStream;
  /** Extra paths to redact, in pino's path syntax. */
  redact?: readonly string[];
}

/**
 * The logger of a Tributary process: one JSON object per line on stdout with `level` (as a
 * name), ISO `time`, `service`, `instance`, `msg`, and the `correlationId` of the unit of work
 * in progress; secrets (see {@link SECRET_LOG_PATHS}) are replaced by `[REDACTED]`.
 */
export function createLogger(service: string, level = 'info', options: CreateLoggerOptions = {}): Logger {
  const instance = options.instance ?? process.env['INSTANCE_ID'] ?? process.env['HOSTNAME'] ?? hostname();
  const settings: LoggerOptions = {
    level,
    base: { service, instance },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // The log call's own object wins over the mixin, so an explicit correlationId is kept.
    mixin: () => {
      const correlationId = currentCorrelationId();
      return correlationId === undefined ? {} : { correlationId };
    },
    redact: { paths: [...SECRET_LOG_PATHS, ...(options.redact ?? [])], censor: REDACTED },
  };
  // pino's default destination writes stdout synchronously: the last lines before a crash are kept.
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
