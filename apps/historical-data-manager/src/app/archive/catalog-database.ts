import { DataSource } from 'typeorm';
import { CATALOG_ENTITIES } from './catalog-entities';
import { catalogMigrations, quoteIdentifier } from './catalog-migrations';

/** A TypeORM data source on the archive catalog schema, with its entities and migrations. */
export function catalogDataSource(databaseUrl: string, schema: string, applicationName = 'historical-data-manager'): DataSource {
  return new DataSource({
    type: 'postgres',
    url: databaseUrl,
    schema,
    entities: CATALOG_ENTITIES,
    migrations: catalogMigrations(schema),
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    applicationName,
    extra: { max: 4 },
  });
}

/**
 * Creates the catalog schema when missing and applies the pending migrations. Instances starting
 * together are serialised by an advisory lock. Returns the names applied.
 */
export async function migrateCatalog(databaseUrl: string, schema: string): Promise<string[]> {
  const dataSource = catalogDataSource(databaseUrl, schema, 'historical-data-manager-migrations');
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
