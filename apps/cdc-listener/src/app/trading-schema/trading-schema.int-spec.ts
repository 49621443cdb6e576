import { Client } from 'pg';
import { migrateTradingSchema } from './trading-database';
import { stackDatabaseUrl } from '@tributary/testing';

const databaseUrl = stackDatabaseUrl();
const schema = `trading_test_${process.pid}_${Date.now().toString(36)}`;

describe('trading schema migrations (real PostgreSQL)', () => {
  const client = new Client({ connectionString: databaseUrl });

  beforeAll(async () => {
    await client.connect();
  });

  afterAll(async () => {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  });

  it('creates the nine trading tables, the capture signal tables and the Kafka cluster record of slots in the configured schema on first start, then has nothing left to apply', async () => {
    expect(await migrateTradingSchema(databaseUrl, schema)).toEqual([
      'TradingSchemaInitial1732406400000',
      'CaptureSignals1742601600000',
      'SlotKafkaCluster1765152000000',
    ]);
    const tables = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
      [schema],
    );
    expect(tables.rows.map((row) => row.table_name)).toEqual([
      'alerts',
      'audit_log',
      'cdc_resnapshots',
      'cdc_signals',
      'cdc_slot_clusters',
      'features',
      'migrations',
      'model_predictions',
      'order_fills',
      'orders',
      'positions',
      'risk_limits',
      'trades',
    ]);
    expect(await migrateTradingSchema(databaseUrl, schema)).toEqual([]);
  });

  it('keeps money exact as numeric(20,8) and refuses a non-positive quantity, an unknown side and a fill of a missing order', async () => {
    const inserted = await client.query<{ price: string }>(
      `INSERT INTO "${schema}".trades (trade_ref, account, symbol, side, quantity, price, executed_at, correlation_id, changed_by)
       VALUES ('t-1', 'ACC1', 'AAPL', 'buy', 100, 123456789012.12345678, '2025-03-21T14:30:00.123456Z', 'req-1', 'alice')
       RETURNING price::text`,
    );
    expect(inserted.rows[0].price).toBe('123456789012.12345678');
    await expect(
      client.query(
        `INSERT INTO "${schema}".trades (trade_ref, account, symbol, side, quantity, price, executed_at) VALUES ('t-2', 'A', 'AAPL', 'buy', 0, 1, now())`,
      ),
    ).rejects.toThrow(/trades_quantity_check/);
    await expect(
      client.query(
        `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity) VALUES ('o-1', 'A', 'AAPL', 'hold', 'market', 1)`,
      ),
    ).rejects.toThrow(/orders_side_check/);
    await expect(
      client.query(
        `INSERT INTO "${schema}".order_fills (order_id, symbol, quantity, price, filled_at) VALUES (999999, 'AAPL', 1, 1, now())`,
      ),
    ).rejects.toThrow(/order_fills_order_id_fkey/);
  });

  it('agrees with the TypeORM entities: reading a row through them gives exact strings for money', async () => {
    const { tradingDataSource } = await import('./trading-database');
    const { Trade } = await import('./trading-entities');
    const dataSource = tradingDataSource(databaseUrl, schema, 'cdc-listener-test');
    await dataSource.initialize();
    try {
      const trade = await dataSource.getRepository(Trade).findOneByOrFail({ tradeRef: 't-1' });
      expect(trade).toMatchObject({ price: '123456789012.12345678', quantity: '100.00000000', changedBy: 'alice' });
      const pending = await dataSource.driver.createSchemaBuilder().log();
      const missingTables = pending.upQueries.filter((query) => /CREATE TABLE/.test(query.query));
      expect(missingTables).toEqual([]);
    } finally {
      await dataSource.destroy();
    }
  });
});
