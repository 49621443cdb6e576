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

/**
 * The lifecycle tables: compaction history, files taken out of the catalog (by compaction or
 * retention) whose objects wait for their grace period, and snapshots pinning sets of files.
 * `files` keeps holding only the current committed files, so every reader of it stays correct.
 */
function lifecycleSql(schema: string): string[] {
  const s = quoteIdentifier(schema);
  return [
    `CREATE TABLE ${s}.compactions (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      dataset text NOT NULL,
      partition_date date NOT NULL,
      partition_hour smallint NOT NULL,
      source_topic text NOT NULL,
      source_partition integer NOT NULL,
      schema_version integer NOT NULL,
      trigger text NOT NULL CONSTRAINT compactions_trigger_check CHECK (trigger IN ('api', 'schedule')),
      status text NOT NULL CONSTRAINT compactions_status_check
        CHECK (status IN ('running', 'committed', 'conflict', 'failed', 'abandoned')),
      input_files integer NOT NULL,
      input_rows bigint NOT NULL,
      input_bytes bigint NOT NULL,
      output_key text,
      output_bytes bigint,
      error text,
      instance text NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    )`,
    `CREATE INDEX compactions_dataset_idx ON ${s}.compactions (dataset, started_at DESC)`,
    `CREATE TABLE ${s}.retired_files (
      object_key text PRIMARY KEY,
      dataset text NOT NULL,
      reason text NOT NULL CONSTRAINT retired_files_reason_check CHECK (reason IN ('compaction', 'retention')),
      compaction_id bigint,
      byte_size bigint NOT NULL,
      retired_at timestamptz NOT NULL DEFAULT now(),
      delete_after timestamptz NOT NULL
    )`,
    `CREATE INDEX retired_files_due_idx ON ${s}.retired_files (delete_after)`,
    `CREATE TABLE ${s}.snapshots (
      name text PRIMARY KEY,
      datasets text[] NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE ${s}.snapshot_files (
      snapshot text NOT NULL CONSTRAINT snapshot_files_snapshot_fkey REFERENCES ${s}.snapshots (name) ON DELETE CASCADE,
      dataset text NOT NULL,
      object_key text NOT NULL,
      partition_date date NOT NULL,
      partition_hour smallint NOT NULL,
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
      committed_at timestamptz NOT NULL,
      PRIMARY KEY (snapshot, object_key)
    )`,
    `CREATE INDEX snapshot_files_partition_idx ON ${s}.snapshot_files (snapshot, dataset, partition_date, partition_hour)`,
    `CREATE INDEX snapshot_files_object_key_idx ON ${s}.snapshot_files (object_key)`,
  ];
}

/**
 * Where archived offsets came from. Kafka offsets mean something only within one topic of one
 * cluster: a topic deleted and created again, another cluster (failover, a second checkout), a
 * cluster rebuilt from backup all count from 0 again. Each source topic is archived in **epochs**:
 * `topic_epochs` names, per epoch, the Kafka cluster ID and topic ID its offsets belong to;
 * `archived_offsets` and `files` carry the epoch (and the IDs) of their offsets. Rows made before
 * this migration form epoch 1 without an identity: the first start after the upgrade adopts the
 * cluster's identity when their positions are consistent with the log, and asks the operator
 * otherwise (see TopicIdentityCheck).
 */
function epochsSql(schema: string): string[] {
  const s = quoteIdentifier(schema);
  return [
    `CREATE TABLE ${s}.topic_epochs (
      source_topic text NOT NULL,
      epoch integer NOT NULL CONSTRAINT topic_epochs_epoch_check CHECK (epoch > 0),
      kafka_cluster_id text,
      kafka_topic_id text,
      started_at timestamptz NOT NULL DEFAULT now(),
      ended_at timestamptz,
      started_by text NOT NULL,
      PRIMARY KEY (source_topic, epoch)
    )`,
    `INSERT INTO ${s}.topic_epochs (source_topic, epoch, started_by)
       SELECT DISTINCT source_topic, 1, 'upgrade' FROM ${s}.archived_offsets`,
    `ALTER TABLE ${s}.archived_offsets
       ADD COLUMN epoch integer NOT NULL DEFAULT 1,
       ADD COLUMN first_offset bigint,
       ADD COLUMN kafka_cluster_id text,
       ADD COLUMN kafka_topic_id text`,
    `ALTER TABLE ${s}.archived_offsets DROP CONSTRAINT archived_offsets_pkey`,
    `ALTER TABLE ${s}.archived_offsets ADD PRIMARY KEY (source_topic, epoch, source_partition)`,
    `ALTER TABLE ${s}.files
       ADD COLUMN epoch integer NOT NULL DEFAULT 1,
       ADD COLUMN kafka_cluster_id text,
       ADD COLUMN kafka_topic_id text`,
    `ALTER TABLE ${s}.snapshot_files ADD COLUMN epoch integer NOT NULL DEFAULT 1`,
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
  class AddArchiveLifecycle1767484800000 implements MigrationInterface {
    name = 'AddArchiveLifecycle1767484800000';

    async up(runner: QueryRunner): Promise<void> {
      for (const sql of lifecycleSql(schema)) await runner.query(sql);
    }

    async down(runner: QueryRunner): Promise<void> {
      const s = quoteIdentifier(schema);
      for (const table of ['snapshot_files', 'snapshots', 'retired_files', 'compactions']) {
        await runner.query(`DROP TABLE ${s}.${table}`);
      }
    }
  }
  class AddArchiveEpochs1768003200000 implements MigrationInterface {
    name = 'AddArchiveEpochs1768003200000';

    async up(runner: QueryRunner): Promise<void> {
      for (const sql of epochsSql(schema)) await runner.query(sql);
    }

    async down(runner: QueryRunner): Promise<void> {
      const s = quoteIdentifier(schema);
      await runner.query(`ALTER TABLE ${s}.snapshot_files DROP COLUMN epoch`);
      await runner.query(`ALTER TABLE ${s}.files DROP COLUMN epoch, DROP COLUMN kafka_cluster_id, DROP COLUMN kafka_topic_id`);
      await runner.query(`DELETE FROM ${s}.archived_offsets WHERE epoch > 1`);
      await runner.query(`ALTER TABLE ${s}.archived_offsets DROP CONSTRAINT archived_offsets_pkey`);
      await runner.query(
        `ALTER TABLE ${s}.archived_offsets DROP COLUMN epoch, DROP COLUMN first_offset, DROP COLUMN kafka_cluster_id, DROP COLUMN kafka_topic_id`,
      );
      await runner.query(`ALTER TABLE ${s}.archived_offsets ADD PRIMARY KEY (source_topic, source_partition)`);
      await runner.query(`DROP TABLE ${s}.topic_epochs`);
    }
  }
  return [CreateArchiveCatalog1767225600000, AddArchiveLifecycle1767484800000, AddArchiveEpochs1768003200000];
}
