import { Inject, Injectable, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { Pool } from 'pg';
import { DEFAULT_PROBE_TIMEOUT_MS, describeError, raceTimeout } from './race-timeout';

/** Injection token of the {@link PostgresHealthOptions} (set by `HealthModule.forRoot`). */
export const POSTGRES_HEALTH_OPTIONS = Symbol('tributary.postgresHealthOptions');

export interface PostgresHealthOptions {
  /** `DATABASE_URL`. The indicator keeps its own one-connection pool to it. */
  connectionString: string;
  /** How long connecting plus the query may take before the check reports down. Default 3000 ms. */
  timeoutMs?: number;
  /** `application_name` of the probe connection, as seen in `pg_stat_activity`. */
  applicationName?: string;
}

export interface PostgresCheckOptions {
  /** Also read `wal_level` and report down unless it is `logical` (needed for CDC). */
  requireLogicalWal?: boolean;
}

/** `host:port/database` of a connection URL, without user or password. */
function describeTarget(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}

/**
 * Readiness of PostgreSQL: `SELECT 1` (or `wal_level` when asked) over a dedicated pool of a
 * single connection, raced against a timeout. A broken connection is dropped by the pool and
 * the next check opens a new one, so the indicator reports up again by itself once the server
 * is back; at most one connection is ever held.
 */
@Injectable()
export class PostgresHealthIndicator implements OnApplicationShutdown {
  readonly target: string;
  private readonly pool: Pool;
  private readonly timeoutMs: number;
  private closed?: Promise<void>;

  constructor(
    @Inject(POSTGRES_HEALTH_OPTIONS) options: PostgresHealthOptions,
    @Optional() private readonly indicators: HealthIndicatorService = new HealthIndicatorService(),
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    this.target = describeTarget(options.connectionString);
    this.pool = new Pool({
      connectionString: options.connectionString,
      application_name: options.applicationName ?? 'tributary-health',
      max: 1,
      connectionTimeoutMillis: this.timeoutMs,
      // A query stuck past the timeout fails, and the pool then discards its connection; the
      // server cancels it too, so a probe never leaves a statement running on the primary.
      query_timeout: this.timeoutMs,
      statement_timeout: this.timeoutMs,
      idle_in_transaction_session_timeout: this.timeoutMs,
      // Longer than the probe period, so probes reuse the connection instead of reconnecting.
      idleTimeoutMillis: 60_000,
      keepAlive: true,
      allowExitOnIdle: true,
    });
    // An idle connection dropped by a server restart is an event, not a crash: the next check reports it.
    this.pool.on('error', () => undefined);
  }

  /** `{ [key]: { status: 'up' | 'down', target, ... } }` for a terminus health check. */
  async isHealthy<const Key extends string = 'postgres'>(
    key: Key = 'postgres' as Key,
    options: PostgresCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const session = this.indicators.check(key);
    const started = performance.now();
    try {
      if (this.closed) throw new Error('the health indicator is closed');
      const sql = options.requireLogicalWal ? "SELECT current_setting('wal_level') AS wal_level" : 'SELECT 1';
      const result = await raceTimeout(
        this.pool.query<{ wal_level?: string }>(sql),
        this.timeoutMs,
        `PostgreSQL ${this.target}`,
      );
      const responseTimeMs = Math.round(performance.now() - started);
      if (!options.requireLogicalWal) return session.up({ target: this.target, responseTimeMs });
      const walLevel = result.rows[0]?.wal_level ?? 'unknown';
      const logicalReplication = walLevel === 'logical';
      const data = { target: this.target, responseTimeMs, walLevel, logicalReplication };
      return logicalReplication
        ? session.up(data)
        : session.down({
            ...data,
            message: `wal_level is '${walLevel}' on ${this.target}; logical decoding needs 'logical'`,
          });
    } catch (error) {
      const reason = describeError(error);
      const message = reason.startsWith(`PostgreSQL ${this.target}`)
        ? reason
        : `PostgreSQL ${this.target}: ${reason}`;
      return session.down({ target: this.target, message });
    }
  }

  /** Closes the probe connection; later checks report down. */
  close(): Promise<void> {
    this.closed ??= this.pool.end();
    return this.closed;
  }

  onApplicationShutdown(): Promise<void> {
    return this.close();
  }
}
