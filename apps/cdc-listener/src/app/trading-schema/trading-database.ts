import { DataSource } from 'typeorm';
import { migrateSchema } from '@tributary/postgres';
import { TRADING_ENTITIES } from './trading-entities';
import { tradingSchemaMigrations } from './trading-migrations';

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
 * Creates the schema when missing and applies the pending migrations (see `migrateSchema`).
 * Returns the names applied.
 */
export function migrateTradingSchema(databaseUrl: string, schema: string): Promise<string[]> {
  return migrateSchema(tradingDataSource(databaseUrl, schema, 'cdc-listener-migrations'), schema);
}
