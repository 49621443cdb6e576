import { DataSource } from 'typeorm';
import { TRADING_ENTITIES } from './trading-entities';
import { quoteIdentifier, tradingSchemaMigrations } from './trading-migrations';

/** A TypeORM data source on the trading schema, with its entities and migrations. */
export function tradingDataSource(databaseUrl: string, schema: string, applicationName = 'cdc-listener'): DataSource {
  return new DataSource({
    type: 'postgres',
    url: databaseUrl,
    schema,
    entities: TRADING_ENTITIES,
    migrations: tradingSchemaMigrations(schema),
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    applicationName,
    extra: { max: 2 },
  });
}

/**
 * Creates the schema when missing and applies the pending migrations, each in its own transaction.
 * Several instances starting together are serialised by an advisory lock. Returns the names applied.
 */
export async function migrateTradingSchema(databaseUrl: string, schema: string): Promise<string[]> {
  const dataSource = tradingDataSource(databaseUrl, schema, 'cdc-listener-migrations');
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.query(`SELECT pg_advisory_lock(hashtext($1))`, [`tributary.migrations.${schema}`]);
    try {
      await runner.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((migration) => migration.name);
    } finally {
      await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`tributary.migrations.${schema}`]);
    }
  } finally {
    await runner.release();
    await dataSource.destroy();
  }
}
