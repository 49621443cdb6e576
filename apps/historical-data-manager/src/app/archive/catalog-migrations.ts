import type { MigrationInterface, QueryRunner } from 'typeorm';
import { quoteIdentifier } from '@tributary/postgres';

/** Quotes an SQL identifier (the catalog schema name comes from configuration). */
export { quoteIdentifier };

function initialCatalogSql(schema: string): string[] {
  const s = quoteIdentifier(schema);
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE ${s}.datasets (
      name text PRIMARY KEY,
      source_topic text NOT NULL,
      schema_version integer NOT NULL,
      partitioning text NOT NULL,
      retention_days integer CONSTRAINT datasets_retention_days_check CHECK (retention_days > 0),
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE ${s}.files (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      dataset text NOT NULL CONSTRAINT files_dataset_fkey REFERENCES ${s}.datasets (name),
      object_key text NOT NULL CONSTRAINT "UQ_files_object_key" UNIQUE,
      partition_date date NOT NULL,
      partition_hour smallint NOT NULL CONSTRAINT files_partition_hour_check CHECK (partition_hour BETWEEN 0 AND 23),
      source_topic text NOT NULL,
      source_partition integer NOT NULL,
      first_offset bigint NOT NULL,
      last_offset bigint NOT NULL,
      row_count bigint NOT NULL,
      byte_size bigint NOT NULL,
      min_event_time_ns bigint NOT NULL,
      max_event_time_ns bigint NOT NULL,
      symbols text[] NOT NULL,
      column_stats jsonb NOT NULL,
      schema_version integer NOT NULL,
      committed_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT files_offsets_check CHECK (first_offset <= last_offset)
    )`,
    `CREATE INDEX files_dataset_partition_idx ON ${s}.files (dataset, partition_date, partition_hour)`,
    `CREATE TABLE ${s}.archived_offsets (
      source_topic text NOT NULL,
      source_partition integer NOT NULL,
      next_offset bigint NOT NULL,
      PRIMARY KEY (source_topic, source_partition)
    )`,
  ];
}

/** The catalog migrations, bound to a schema (default `archive`). */
export function catalogMigrations(schema: string): (new () => MigrationInterface)[] {
  class CreateArchiveCatalog1767225600000 implements MigrationInterface {
    name = 'CreateArchiveCatalog1767225600000';

    async up(runner: QueryRunner): Promise<void> {
      for (const sql of initialCatalogSql(schema)) await runner.query(sql);
    }

    async down(runner: QueryRunner): Promise<void> {
      const s = quoteIdentifier(schema);
      await runner.query(`DROP TABLE ${s}.archived_offsets`);
      await runner.query(`DROP TABLE ${s}.files`);
      await runner.query(`DROP TABLE ${s}.datasets`);
    }
  }
  return [CreateArchiveCatalog1767225600000];
}
