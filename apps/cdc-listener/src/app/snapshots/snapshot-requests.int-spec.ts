import { HttpException } from '@nestjs/common';
import { Client } from 'pg';
import { parseEnv } from '@tributary/config';
import { cdcListenerEnv } from '../../config';
import { migrateTradingSchema } from '../trading-schema/trading-database';
import { TradingPool } from '../trading-schema/trading-pool';
import { SnapshotsController } from './snapshots.controller';
import { stackDatabaseUrl } from '@tributary/testing';

// The snapshot endpoints on the real PostgreSQL, with no listener running: requests stay queued, so
// the bounds on the queue are what is seen. The controller is called in process (no HTTP), so these
// calls need no credential.

const databaseUrl = stackDatabaseUrl();
const schema = `cdc_snapreq_${process.pid}_${Date.now().toString(36)}`;

/** The HTTP status a request would answer: 202 unless the controller set another or threw. */
async function call(
  request: (response: { status(code: number): unknown }) => Promise<{ id: string; status: string }>,
) {
  let status = 202;
  try {
    const body = await request({ status: (code) => (status = code) });
    return { status, body, error: undefined };
  } catch (error) {
    if (!(error instanceof HttpException)) throw error;
    return {
      status: error.getStatus(),
      body: undefined,
      error: error.getResponse() as { message: string; snapshotId?: string; pending?: string[] },
    };
  }
}

describe('re-snapshot requests are bounded (real PostgreSQL)', () => {
  const admin = new Client({ connectionString: databaseUrl });
  const config = parseEnv(cdcListenerEnv, {
    DATABASE_URL: databaseUrl,
    CDC_SCHEMA: schema,
    CDC_MAX_PENDING_SNAPSHOTS: '3',
  });
  const pool = new TradingPool(config);
  const snapshots = new SnapshotsController(pool, config);
  const ask = (table: string) => call((response) => snapshots.requestTable(table, response));

  beforeAll(async () => {
    await admin.connect();
    await migrateTradingSchema(databaseUrl, schema, config);
  });

  afterAll(async () => {
    await pool.onApplicationShutdown();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('asking again for a table whose re-snapshot is still queued answers that request (200), without queueing another', async () => {
    const first = await ask('orders');
    expect(first).toMatchObject({ status: 202, body: { status: 'pending' } });
    const again = await call((response) => snapshots.request({ table: 'orders' }, response));
    expect(again).toMatchObject({ status: 200, body: { id: first.body?.id, status: 'pending' } });
    const signals = await admin.query(`SELECT id FROM "${schema}".cdc_signals`);
    expect(signals.rows.map((row) => row.id)).toEqual([first.body?.id]);
  });

  it('asking for a table whose re-snapshot is running answers 409 naming the request in progress', async () => {
    const running = await ask('positions');
    await admin.query(
      `INSERT INTO "${schema}".cdc_resnapshots (signal_id, table_name, status) VALUES ($1, 'positions', 'running')`,
      [running.body?.id],
    );
    const again = await ask('positions');
    expect(again.status).toBe(409);
    expect(again.error?.snapshotId).toBe(running.body?.id);
    expect(again.error?.message).toContain(
      `a re-snapshot of positions is running (request ${running.body?.id})`,
    );
  });

  it('beyond CDC_MAX_PENDING_SNAPSHOTS requests queued or running, a request for another table answers 429 naming the setting', async () => {
    expect((await ask('trades')).status).toBe(202); // orders, positions and trades: 3 of 3
    const refused = await ask('alerts');
    expect(refused.status).toBe(429);
    expect(refused.error?.message).toBe(
      '3 re-snapshot requests are queued or running, the maximum of CDC_MAX_PENDING_SNAPSHOTS (3); ask again once one completed',
    );
    expect(refused.error?.pending).toHaveLength(3);
  });

  it('a completed or failed request frees its place, and the table may be asked for again', async () => {
    const { rows } = await admin.query<{ id: string }>(
      `SELECT id FROM "${schema}".cdc_signals WHERE data->'data-collections' ? $1`,
      [`${schema}.trades`],
    );
    await admin.query(
      `INSERT INTO "${schema}".cdc_resnapshots (signal_id, table_name, status, completed_at) VALUES ($1, 'trades', 'completed', now())`,
      [rows[0]?.id],
    );
    expect((await ask('alerts')).status).toBe(202);
    await admin.query(
      `UPDATE "${schema}".cdc_resnapshots SET status = 'failed', error = 'test' WHERE table_name = 'positions'`,
    );
    const positions = await ask('positions');
    expect(positions.status).toBe(202);
  });

  it('two requests for one table at the same moment queue one re-snapshot', async () => {
    await admin.query(`INSERT INTO "${schema}".cdc_resnapshots (signal_id, table_name, status, completed_at)
                       SELECT id, regexp_replace(data->'data-collections'->>0, '^.*\\.', ''), 'completed', now() FROM "${schema}".cdc_signals
                       ON CONFLICT (signal_id, table_name) DO UPDATE SET status = 'completed'`);
    const [a, b] = await Promise.all([ask('risk_limits'), ask('risk_limits')]);
    expect([a.status, b.status].sort()).toEqual([200, 202]);
    expect(a.body?.id).toBe(b.body?.id);
  });

  it('a table that is not captured is a 400 naming the table', async () => {
    const answer = await ask('nope');
    expect(answer.status).toBe(400);
    expect(answer.error?.message).toMatch(/^table must be one of the captured tables/);
  });
});
