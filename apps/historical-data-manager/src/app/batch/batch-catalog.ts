import type { Pool, PoolClient } from 'pg';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { migrateSchema, quoteIdentifier } from '@tributary/postgres';
import { hourPartitionOf } from '../archive/archive-layout';
import { migrateCatalog } from '../archive/catalog-database';

/** The batch layer's own tables in the catalog schema: run history and replaced objects awaiting deletion. */
export function batchMigrations(schema: string): (new () => MigrationInterface)[] {
  const s = quoteIdentifier(schema);
  class CreateBatchTables1767312000000 implements MigrationInterface {
    name = 'CreateBatchTables1767312000000';

    async up(runner: QueryRunner): Promise<void> {
      await runner.query(`CREATE TABLE ${s}.batch_jobs (
        id uuid PRIMARY KEY,
        job text NOT NULL,
        from_ns bigint NOT NULL,
        to_ns bigint NOT NULL,
        symbols text[] NOT NULL,
        params jsonb NOT NULL,
        trigger text NOT NULL CONSTRAINT batch_jobs_trigger_check CHECK (trigger IN ('api', 'schedule')),
        status text NOT NULL CONSTRAINT batch_jobs_status_check CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
        percent double precision NOT NULL DEFAULT 0,
        stage text,
        input_rows bigint NOT NULL DEFAULT 0,
        output_rows bigint NOT NULL DEFAULT 0,
        error text,
        result jsonb,
        instance text NOT NULL,
        created_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz
      )`);
      await runner.query(`CREATE INDEX batch_jobs_created_idx ON ${s}.batch_jobs (created_at DESC)`);
      // one scheduled run per job and period, whichever instance claims it first
      await runner.query(
        `CREATE UNIQUE INDEX batch_jobs_scheduled_idx ON ${s}.batch_jobs (job, from_ns, to_ns) WHERE trigger = 'schedule'`,
      );
      await runner.query(`CREATE TABLE ${s}.batch_obsolete_objects (
        object_key text PRIMARY KEY,
        delete_after timestamptz NOT NULL
      )`);
    }

    async down(runner: QueryRunner): Promise<void> {
      await runner.query(`DROP TABLE ${s}.batch_obsolete_objects`);
      await runner.query(`DROP TABLE ${s}.batch_jobs`);
    }
  }
  return [CreateBatchTables1767312000000];
}

/** Migrates the archive catalog (datasets, files) and then the batch tables of `schema`. */
export async function migrateBatchCatalog(databaseUrl: string, schema: string): Promise<void> {
  await migrateCatalog(databaseUrl, schema);
  await migrateSchema(
    new DataSource({
      type: 'postgres',
      url: databaseUrl,
      schema,
      entities: [],
      migrations: batchMigrations(schema),
      migrationsTableName: 'batch_migrations',
      migrationsTransactionMode: 'each',
      applicationName: 'historical-data-manager-batch-migrations',
    }),
    schema,
  );
}

/** A committed file of the catalog. */
export interface CatalogFile {
  key: string;
  bytes: number;
  rows: number;
  minEventTimeNs: bigint;
  maxEventTimeNs: bigint;
  symbols: string[];
  partitionDate: string;
  partitionHour: number;
}

/** A gold file written by a run, ready to commit. */
export interface GoldFile {
  dataset: string;
  key: string;
  partitionDate: string;
  partitionHour: number;
  rows: number;
  bytes: number;
  minEventTimeNs: bigint;
  maxEventTimeNs: bigint;
  symbols: string[];
  columnStats: Record<string, { min: string | null; max: string | null; nulls: number }>;
}

/** What a run replaces in one gold dataset: the files it read as current, and the files that take their place. */
export interface GoldSwap {
  dataset: string;
  /** Source of the dataset in the catalog, e.g. `gold:candles`. */
  sourceTopic: string;
  fromNs: bigint;
  toNs: bigint;
  symbols: readonly string[];
  replaced: string[];
  added: GoldFile[];
}

/** Another run changed the gold dataset between this run's read of it and its commit. */
export class GoldConflictError extends Error {}

/** PostgreSQL errors meaning the catalog was never created: nothing is committed yet. */
const NO_CATALOG = new Set(['3F000', '42P01']);

/**
 * The batch layer's side of the catalog: selecting committed input files, swapping a run's gold
 * files in, and the run history.
 */
export class BatchCatalog {
  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
  ) {}

  /**
   * Committed files of `dataset` that may hold rows of `[fromNs, toNs)` (and of `symbols`, when
   * given): pruned by hour partition, then by each file's event-time range and symbols.
   */
  async files(dataset: string, fromNs: bigint, toNs: bigint, symbols: readonly string[], client?: PoolClient): Promise<CatalogFile[]> {
    const first = hourPartitionOf(fromNs);
    const last = hourPartitionOf(toNs - 1n);
    let rows: Record<string, unknown>[];
    try {
      rows = (
        await (client ?? this.pool).query(
          `SELECT object_key, byte_size, row_count, min_event_time_ns, max_event_time_ns, symbols,
                  to_char(partition_date, 'YYYY-MM-DD') AS partition_date, partition_hour
             FROM ${this.table('files')}
            WHERE dataset = $1
              AND (partition_date, partition_hour) >= ($2::date, $3::smallint)
              AND (partition_date, partition_hour) <= ($4::date, $5::smallint)
              AND max_event_time_ns >= $6 AND min_event_time_ns < $7
              AND ($8::text[] IS NULL OR symbols && $8::text[])
            ORDER BY min_event_time_ns, source_partition, first_offset, object_key`,
          [
            dataset,
            first.date,
            first.hour,
            last.date,
            last.hour,
            fromNs.toString(),
            toNs.toString(),
            symbols.length > 0 ? symbols : null,
          ],
        )
      ).rows;
    } catch (error) {
      if (NO_CATALOG.has((error as { code?: string }).code ?? '')) return [];
      throw error;
    }
    return rows.map((r) => ({
      key: String(r['object_key']),
      bytes: Number(r['byte_size']),
      rows: Number(r['row_count']),
      minEventTimeNs: BigInt(r['min_event_time_ns'] as string),
      maxEventTimeNs: BigInt(r['max_event_time_ns'] as string),
      symbols: r['symbols'] as string[],
      partitionDate: String(r['partition_date']),
      partitionHour: Number(r['partition_hour']),
    }));
  }

  /**
   * Swaps every output of a run in one transaction: per dataset, the files it replaces leave the
   * catalog and its new files enter it, so readers see either the old output or the new one. The
   * replaced objects are queued for deletion after `graceMs`. Refused with a
   * {@link GoldConflictError} when a dataset's current files are no longer those the run read.
   */
  async swap(swaps: readonly GoldSwap[], graceMs: number): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      for (const swap of swaps) {
        await client.query(
          `INSERT INTO ${this.table('datasets')} (name, source_topic, schema_version, partitioning, retention_days)
           VALUES ($1, $2, 1, 'date=YYYY-MM-DD/hour=HH', NULL) ON CONFLICT (name) DO NOTHING`,
          [swap.dataset, swap.sourceTopic],
        );
        await client.query(`SELECT name FROM ${this.table('datasets')} WHERE name = $1 FOR UPDATE`, [swap.dataset]);
        const current = (await this.files(swap.dataset, swap.fromNs, swap.toNs, swap.symbols, client)).map((f) => f.key).sort();
        const expected = [...swap.replaced].sort();
        if (current.join('\n') !== expected.join('\n')) {
          throw new GoldConflictError(
            `${swap.dataset} changed while this run was computing (another run of the same range?): nothing was replaced; run it again`,
          );
        }
        if (swap.replaced.length > 0) {
          await client.query(`DELETE FROM ${this.table('files')} WHERE object_key = ANY($1::text[])`, [swap.replaced]);
          await client.query(
            `INSERT INTO ${this.table('batch_obsolete_objects')} (object_key, delete_after)
             SELECT unnest($1::text[]), now() + make_interval(secs => $2::double precision / 1000)
             ON CONFLICT (object_key) DO NOTHING`,
            [swap.replaced, graceMs],
          );
        }
        for (const file of swap.added) {
          await client.query(
            `INSERT INTO ${this.table('files')} (dataset, object_key, partition_date, partition_hour, source_topic,
               source_partition, first_offset, last_offset, row_count, byte_size, min_event_time_ns, max_event_time_ns,
               symbols, column_stats, schema_version)
             VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $7, $8, $9, $10, $11, $12, 1)`,
            [
              file.dataset,
              file.key,
              file.partitionDate,
              file.partitionHour,
              swap.sourceTopic,
              Math.max(file.rows - 1, 0),
              file.rows,
              file.bytes,
              file.minEventTimeNs.toString(),
              file.maxEventTimeNs.toString(),
              file.symbols,
              JSON.stringify(file.columnStats),
            ],
          );
        }
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** Replaced objects whose grace period is over (oldest first). */
  async dueObsoleteObjects(limit: number): Promise<string[]> {
    const { rows } = await this.pool.query(
      // An object a snapshot pins stays until the snapshot is released (lifecycle: snapshots).
      `SELECT o.object_key FROM ${this.table('batch_obsolete_objects')} o
        WHERE o.delete_after <= now()
          AND NOT EXISTS (SELECT 1 FROM ${this.table('snapshot_files')} s WHERE s.object_key = o.object_key)
        ORDER BY o.delete_after LIMIT $1`,
      [limit],
    );
    return rows.map((r: { object_key: string }) => r.object_key);
  }

  async forgetObsoleteObjects(keys: readonly string[]): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.table('batch_obsolete_objects')} WHERE object_key = ANY($1::text[])`, [keys]);
  }

  table(name: string): string {
    return `${quoteIdentifier(this.schema)}.${name}`;
  }
}
