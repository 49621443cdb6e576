import { DataSource } from 'typeorm';
import { migrateSchema, type SessionTimeouts } from '@tributary/postgres';
import { CATALOG_ENTITIES } from './catalog-entities';
import { catalogMigrations } from './catalog-migrations';
import { integrityMigration } from '../integrity/integrity-migration';

/**
 * A TypeORM data source on the archive catalog schema, with its entities and migrations; its
 * sessions carry `timeouts` when given (`sessionTimeouts` of @tributary/postgres; the migrations'
 * data source goes without: a migration may rightly take longer than any query).
 */
export function catalogDataSource(
  databaseUrl: string,
  schema: string,
  applicationName = 'historical-data-manager',
  timeouts: SessionTimeouts = {},
): DataSource {
  return new DataSource({
    type: 'postgres',
    url: databaseUrl,
    schema,
    entities: CATALOG_ENTITIES,
    migrations: [...catalogMigrations(schema), integrityMigration(schema)],
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    applicationName,
    extra: { max: 4, ...timeouts },
  });
}

/**
 * Creates the schema when missing and applies the pending migrations (see `migrateSchema`).
 * Returns the names applied.
 */
export function migrateCatalog(databaseUrl: string, schema: string): Promise<string[]> {
  return migrateSchema(catalogDataSource(databaseUrl, schema, 'historical-data-manager-migrations'), schema);
}
