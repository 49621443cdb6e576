import { Client, Pool } from 'pg';
import { parseEnv, postgresEnv } from '@tributary/config';
import { eventually, stackDatabaseUrl } from '@tributary/testing';
import { QUERY_CANCELED, sessionTimeouts } from './session-timeouts';

// Against the real local PostgreSQL: the limits set from the shared environment variables are the
// ones the server applies to a pool's sessions.

const databaseUrl = stackDatabaseUrl();

describe('PostgreSQL session timeouts from DATABASE_STATEMENT_TIMEOUT_MS and DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS', () => {
  const config = parseEnv(postgresEnv, {
    DATABASE_URL: databaseUrl,
    DATABASE_STATEMENT_TIMEOUT_MS: '1500ms',
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '2s',
  });
  const pool = new Pool({
    connectionString: databaseUrl,
    max: 2,
    application_name: 'tributary-session-timeouts-test',
    ...sessionTimeouts(config),
  });
  const observer = new Client({
    connectionString: databaseUrl,
    application_name: 'tributary-session-timeouts-observer',
  });

  beforeAll(() => observer.connect());
  afterAll(async () => {
    await pool.end();
    await observer.end();
  });

  it('a pool connection runs with the configured statement_timeout and idle_in_transaction_session_timeout', async () => {
    const [statement] = (await pool.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows;
    const [idle] = (
      await pool.query<{ idle_in_transaction_session_timeout: string }>(
        'SHOW idle_in_transaction_session_timeout',
      )
    ).rows;
    expect(statement?.statement_timeout).toBe('1500ms');
    expect(idle?.idle_in_transaction_session_timeout).toBe('2s');
  });

  it('a statement running past the limit is cancelled by the server with a clear error, and the pool stays usable', async () => {
    await expect(pool.query('SELECT pg_sleep(60)')).rejects.toMatchObject({
      code: QUERY_CANCELED,
      message: 'canceling statement due to statement timeout',
    });
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('a session left idle inside a transaction is ended by the server', async () => {
    const client = new Client({
      connectionString: databaseUrl,
      application_name: 'tributary-session-timeouts-idle',
      ...sessionTimeouts(config),
    });
    const ended = new Promise<Error>((resolve) => client.on('error', resolve));
    await client.connect();
    const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [
      { pid: number },
    ];
    await client.query('BEGIN');
    await eventually(
      async () =>
        (await observer.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0,
      'the idle transaction session to be ended by the server',
    );
    const error = await ended;
    expect(error.message).toMatch(/idle-in-transaction timeout|Connection terminated/);
    await client.end().catch(() => undefined);
  });

  it('a connection exempt from the statement limit (a replication stream, slot creation) keeps the server default', async () => {
    const client = new Client({
      connectionString: databaseUrl,
      ...sessionTimeouts(config, { statement: true }),
    });
    await client.connect();
    try {
      const [row] = (await client.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows;
      expect(row?.statement_timeout).toBe('0');
    } finally {
      await client.end();
    }
  });
});
