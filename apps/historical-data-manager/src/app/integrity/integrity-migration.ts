import type { MigrationInterface, QueryRunner } from 'typeorm';
import { quoteIdentifier } from '@tributary/postgres';

/**
 * The catalog checked against the store: each file row records its object's SHA-256 and the
 * checksum the store keeps (at commit, or filled by the verification job: `checksum_source`), and
 * the state the last check or read found (`ok`, `missing`, `corrupt`); files whose records can be
 * archived again from Kafka no more are moved to `lost_files` (the gaps); objects under a dataset's
 * prefix that no row owns are kept in `orphan_objects`; each dataset's last verification in
 * `integrity_checks`.
 */
function integritySql(schema: string): string[] {
  const s = quoteIdentifier(schema);
  return [
    `ALTER TABLE ${s}.files
       ADD COLUMN checksum_sha256 text,
       ADD COLUMN store_checksum text,
       ADD COLUMN checksum_source text CONSTRAINT files_checksum_source_check CHECK (checksum_source IN ('commit', 'backfilled')),
       ADD COLUMN state text NOT NULL DEFAULT 'ok' CONSTRAINT files_state_check CHECK (state IN ('ok', 'missing', 'corrupt')),
       ADD COLUMN state_detail text,
       ADD COLUMN checked_at timestamptz`,
    `CREATE INDEX files_dataset_object_key_idx ON ${s}.files (dataset, object_key)`,
    `CREATE INDEX files_unreadable_idx ON ${s}.files (dataset) WHERE state <> 'ok'`,
    `CREATE TABLE ${s}.lost_files (
      object_key text PRIMARY KEY,
      dataset text NOT NULL,
      source_topic text NOT NULL,
      source_partition integer NOT NULL,
      first_offset bigint NOT NULL,
      last_offset bigint NOT NULL,
      partition_date date NOT NULL,
      partition_hour smallint NOT NULL,
      row_count bigint NOT NULL,
      min_event_time_ns bigint NOT NULL,
      max_event_time_ns bigint NOT NULL,
      symbols text[] NOT NULL,
      reason text NOT NULL,
      file_row jsonb NOT NULL,
      lost_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE INDEX lost_files_dataset_idx ON ${s}.lost_files (dataset, partition_date, partition_hour)`,
    `CREATE TABLE ${s}.orphan_objects (
      object_key text PRIMARY KEY,
      dataset text NOT NULL,
      byte_size bigint NOT NULL,
      last_modified timestamptz,
      found_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE INDEX orphan_objects_dataset_idx ON ${s}.orphan_objects (dataset)`,
    `CREATE TABLE ${s}.integrity_checks (
      dataset text PRIMARY KEY,
      started_at timestamptz NOT NULL,
      finished_at timestamptz NOT NULL,
      deep boolean NOT NULL,
      files_checked bigint NOT NULL,
      objects_listed bigint NOT NULL,
      missing bigint NOT NULL,
      corrupt bigint NOT NULL,
      orphaned bigint NOT NULL,
      backfilled bigint NOT NULL
    )`,
  ];
}

/** The integrity migration, bound to the catalog schema (listed in `catalogMigrations`). */
export function integrityMigration(schema: string): new () => MigrationInterface {
  return class AddArchiveIntegrity1796601600000 implements MigrationInterface {
    name = 'AddArchiveIntegrity1796601600000';

    async up(runner: QueryRunner): Promise<void> {
      for (const sql of integritySql(schema)) await runner.query(sql);
    }

    async down(runner: QueryRunner): Promise<void> {
      const s = quoteIdentifier(schema);
      for (const table of ['integrity_checks', 'orphan_objects', 'lost_files'])
        await runner.query(`DROP TABLE ${s}.${table}`);
      await runner.query(`DROP INDEX ${s}.files_unreadable_idx`);
      await runner.query(`DROP INDEX ${s}.files_dataset_object_key_idx`);
      await runner.query(
        `ALTER TABLE ${s}.files DROP COLUMN checked_at, DROP COLUMN state_detail, DROP COLUMN state,
           DROP COLUMN checksum_source, DROP COLUMN store_checksum, DROP COLUMN checksum_sha256`,
      );
    }
  };
}
