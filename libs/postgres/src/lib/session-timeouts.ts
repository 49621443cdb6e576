import type { ClientConfig } from 'pg';

/** The shared PostgreSQL settings (`postgresEnv` of @tributary/config) these options are built from. */
export interface SessionTimeoutSettings {
  readonly DATABASE_STATEMENT_TIMEOUT_MS: number;
  readonly DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: number;
}

/**
 * Which of the two limits a connection is exempt from, and why it must be:
 * - `statement`: a command that legitimately runs long — a replication stream (START_REPLICATION
 *   lasts as long as the connection), creating a replication slot (it waits for every running
 *   transaction to end), schema migrations;
 * - `idleInTransaction`: a reader that holds a snapshot open while it waits on something else
 *   (an exported or re-snapshot transaction waiting for the stream or for Kafka).
 */
export interface SessionTimeoutExemptions {
  readonly statement?: boolean;
  readonly idleInTransaction?: boolean;
}

export type SessionTimeouts = Pick<ClientConfig, 'statement_timeout' | 'idle_in_transaction_session_timeout'>;

/**
 * `statement_timeout` and `idle_in_transaction_session_timeout` for a `pg` Client or Pool (spread into
 * its options, or into TypeORM's `extra`): the server applies them to every session of the connection,
 * so a runaway query or a transaction left open by a stuck caller is ended by PostgreSQL itself. A
 * statement cancelled this way fails with SQLSTATE 57014, "canceling statement due to statement
 * timeout". 0 (or an exemption) leaves the server's default, normally no limit.
 */
export function sessionTimeouts(
  settings: SessionTimeoutSettings,
  exempt: SessionTimeoutExemptions = {},
): SessionTimeouts {
  const options: SessionTimeouts = {};
  if (!exempt.statement && settings.DATABASE_STATEMENT_TIMEOUT_MS > 0)
    options.statement_timeout = settings.DATABASE_STATEMENT_TIMEOUT_MS;
  if (!exempt.idleInTransaction && settings.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS > 0) {
    options.idle_in_transaction_session_timeout = settings.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS;
  }
  return options;
}

/** SQLSTATE of a statement the server cancelled (statement_timeout, or pg_cancel_backend). */
export const QUERY_CANCELED = '57014';
