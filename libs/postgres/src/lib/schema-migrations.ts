import type { DataSource } from 'typeorm';

/** Quotes a PostgreSQL identifier (schema, table, slot or publication name) for use in SQL text. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Creates `schema` when missing and applies the data source's pending migrations, each in its own
 * transaction. Instances starting together are serialised by an advisory lock on the schema name,
 * so two pods never run the same migration at once. Closes the data source; returns the names applied.
 */
export async function migrateSchema(dataSource: DataSource, schema: string): Promise<string[]> {
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  const lockName = `tributary.migrations.${schema}`;
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [lockName]);
    try {
      await runner.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((migration) => migration.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [lockName]);
    }
  } finally {
    await runner.release();
    await dataSource.destroy();
  }
}
