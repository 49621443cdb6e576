/**
 * The stores the archive writes to, and the cluster whose identity every flush checks; when one is
 * away, the archive waits for it instead of failing records.
 */
export type ArchiveDependency = 's3' | 'postgres' | 'kafka';

const DEPENDENCY_NAMES: Record<ArchiveDependency, string> = { s3: 'S3', postgres: 'PostgreSQL', kafka: 'Kafka' };

/**
 * A flush failed because S3 or PostgreSQL could not be reached (or refused to work), not because
 * of the records: retrying later will succeed, so the records must neither fail nor go to the DLQ.
 */
export class DependencyUnavailableError extends Error {
  override readonly name = 'DependencyUnavailableError';

  constructor(
    readonly dependency: ArchiveDependency,
    cause: unknown,
  ) {
    super(`${DEPENDENCY_NAMES[dependency]} unavailable: ${describe(cause)}`, { cause });
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: string }).code;
  const text = error.message || error.name;
  return code && !text.includes(code) ? `${code} ${text}` : text;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * Whether a PostgreSQL error means the server is away rather than the statement wrong: network
 * errors, connection exceptions (SQLSTATE class 08), shutdown and overload states, and the pool's
 * own messages for a connection lost or never made.
 */
export function isPostgresUnavailable(error: unknown): boolean {
  for (const candidate of [error, (error as { driverError?: unknown })?.driverError]) {
    if (candidate === null || typeof candidate !== 'object') continue;
    const code = String((candidate as { code?: string }).code ?? '');
    if (NETWORK_CODES.has(code) || code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code)) {
      return true;
    }
    const message = String((candidate as { message?: string }).message ?? '');
    if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection refused/i.test(message)) {
      return true;
    }
  }
  return false;
}

/** Re-throws a PostgreSQL error as {@link DependencyUnavailableError} when the server is away. */
export function asPostgresOutage(error: unknown): unknown {
  return isPostgresUnavailable(error) ? new DependencyUnavailableError('postgres', error) : error;
}
