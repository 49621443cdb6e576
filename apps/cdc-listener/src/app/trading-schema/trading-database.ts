import { DataSource } from 'typeorm';
import { migrateSchema, sessionTimeouts, type SessionTimeoutSettings } from '@tributary/postgres';
import { TRADING_ENTITIES } from './trading-entities';
import { tradingSchemaMigrations } from './trading-migrations';

/**
 * A TypeORM data source on the trading schema, with its entities and migrations. With `timeouts`, its
 * sessions get idle_in_transaction_session_timeout; statement_timeout is left out, as a migration
 * (an index build, a table rewrite) may rightly run longer than any request.
 */
export function tradingDataSource(databaseUrl: string, schema: string, applicationName = 'cdc-listener', timeouts?: SessionTimeoutSettings): DataSource {
  return new DataSource({
    type: 'postgres',
    url: databaseUrl,
    schema,
    entities: TRADING_ENTITIES,
    migrations: tradingSchemaMigrations(schema),
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    applicationName,
    extra: { max: 2, ...(timeouts ? sessionTimeouts(timeouts, { statement: true }) : {}) },
  });
}

/**
 * Creates the schema when missing and applies the pending migrations (see `migrateSchema`).
 * Returns the names applied.
 */
export function migrateTradingSchema(databaseUrl: string, schema: string, timeouts?: SessionTimeoutSettings): Promise<string[]> {
  return migrateSchema(tradingDataSource(databaseUrl, schema, 'cdc-listener-migrations', timeouts), schema);
}
