import type { Pool } from 'pg';
import { quoteIdentifier } from '../archive/catalog-migrations';
import type { FileState } from './archive-file-state';

/** What the verification and repair need of a catalogued file. */
export interface CatalogedFile {
  key: string;
  dataset: string;
  sourceTopic: string;
  partition: number;
  firstOffset: bigint;
  lastOffset: bigint;
  rows: number;
  bytes: number;
  date: string;
  hour: number;
  sha256: string | null;
  storeChecksum: string | null;
  state: FileState;
  /** The file's archive epoch when the catalog has epochs; null otherwise. */
  epoch: number | null;
}

/** An object in the bucket, as a listing gives it. */
export interface ListedObject {
  key: string;
  bytes: number;
  lastModified: Date | null;
}

/** One verification's figures, kept per dataset in `integrity_checks`. */
export interface CheckFigures {
  startedAt: Date;
  deep: boolean;
  filesChecked: number;
  objectsListed: number;
  missing: number;
  corrupt: number;
  orphaned: number;
  backfilled: number;
}

/** The integrity side of the archive catalog: file states, checksums, orphans and gaps. */
export class IntegrityCatalog {
  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
  ) {}

  async datasetNames(): Promise<string[]> {
    const { rows } = await this.pool.query(`SELECT name FROM ${this.table('datasets')} ORDER BY name`);
    return rows.map((r: { name: string }) => r.name);
  }

  async datasetExists(name: string): Promise<boolean> {
    const { rows } = await this.pool.query(`SELECT 1 FROM ${this.table('datasets')} WHERE name = $1`, [name]);
    return rows.length > 0;
  }

  /** Up to `limit` files of `dataset` after `afterKey` in key order (one page of the catalog); `unreadableOnly`: state <> ok. */
  async filesPage(
    dataset: string,
    afterKey: string,
    limit: number,
    unreadableOnly = false,
  ): Promise<CatalogedFile[]> {
    const { rows } = await this.pool.query(
      `SELECT object_key, dataset, source_topic, source_partition, first_offset::text, last_offset::text, row_count::text,
              byte_size::text, to_char(partition_date, 'YYYY-MM-DD') AS date, partition_hour, checksum_sha256, store_checksum,
              state, (to_jsonb(f) ->> 'epoch')::int AS epoch
         FROM ${this.table('files')} f
        WHERE dataset = $1 AND object_key > $2 AND ($4::boolean IS FALSE OR state <> 'ok')
        ORDER BY object_key LIMIT $3`,
      [dataset, afterKey, limit, unreadableOnly],
    );
    return rows.map((r: Record<string, unknown>) => ({
      key: String(r['object_key']),
      dataset: String(r['dataset']),
      sourceTopic: String(r['source_topic']),
      partition: Number(r['source_partition']),
      firstOffset: BigInt(r['first_offset'] as string),
      lastOffset: BigInt(r['last_offset'] as string),
      rows: Number(r['row_count']),
      bytes: Number(r['byte_size']),
      date: String(r['date']),
      hour: Number(r['partition_hour']),
      sha256: (r['checksum_sha256'] as string | null) ?? null,
      storeChecksum: (r['store_checksum'] as string | null) ?? null,
      state: r['state'] as FileState,
      epoch: r['epoch'] === null || r['epoch'] === undefined ? null : Number(r['epoch']),
    }));
  }

  /** Records what a check found of a file. */
  async setState(key: string, state: FileState, detail: string | null): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.table('files')} SET state = $2, state_detail = $3, checked_at = now() WHERE object_key = $1`,
      [key, state, detail],
    );
  }

  /** Fills the checksum of a file committed before checksums were recorded, read once from its object. */
  async backfillChecksum(key: string, sha256: string, storeChecksum: string | null): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.table('files')}
          SET checksum_sha256 = $2, store_checksum = $3, checksum_source = 'backfilled', state = 'ok', state_detail = NULL,
              checked_at = now()
        WHERE object_key = $1 AND checksum_sha256 IS NULL`,
      [key, sha256, storeChecksum],
    );
  }

  /**
   * The listed objects of `dataset` that no catalog row owns: not a current file, not a retired
   * file waiting for deletion, not pinned by a snapshot, not the output of a compaction under way,
   * not a replaced gold object waiting for deletion.
   */
  async unowned(objects: readonly ListedObject[]): Promise<ListedObject[]> {
    if (objects.length === 0) return [];
    const gold = await this.hasTable('batch_obsolete_objects');
    const { rows } = await this.pool.query(
      `SELECT k FROM unnest($1::text[]) AS k
        WHERE NOT EXISTS (SELECT 1 FROM ${this.table('files')} WHERE object_key = k)
          AND NOT EXISTS (SELECT 1 FROM ${this.table('retired_files')} WHERE object_key = k)
          AND NOT EXISTS (SELECT 1 FROM ${this.table('snapshot_files')} WHERE object_key = k)
          AND NOT EXISTS (SELECT 1 FROM ${this.table('compactions')} WHERE output_key = k AND status = 'running')
          ${gold ? `AND NOT EXISTS (SELECT 1 FROM ${this.table('batch_obsolete_objects')} o WHERE to_jsonb(o) ->> 'object_key' = k)` : ''}`,
      [objects.map((o) => o.key)],
    );
    const keys = new Set(rows.map((r: { k: string }) => r.k));
    return objects.filter((o) => keys.has(o.key));
  }

  /** Starts a verification's orphan list of `dataset` afresh. */
  async clearOrphans(dataset: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.table('orphan_objects')} WHERE dataset = $1`, [dataset]);
  }

  async addOrphans(dataset: string, objects: readonly ListedObject[]): Promise<void> {
    if (objects.length === 0) return;
    await this.pool.query(
      `INSERT INTO ${this.table('orphan_objects')} (object_key, dataset, byte_size, last_modified)
       SELECT k, $1, b, m FROM unnest($2::text[], $3::bigint[], $4::timestamptz[]) AS i(k, b, m)
       ON CONFLICT (object_key) DO UPDATE SET byte_size = excluded.byte_size, last_modified = excluded.last_modified, found_at = now()`,
      [dataset, objects.map((o) => o.key), objects.map((o) => o.bytes), objects.map((o) => o.lastModified)],
    );
  }

  async recordCheck(dataset: string, figures: CheckFigures): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.table('integrity_checks')} (dataset, started_at, finished_at, deep, files_checked, objects_listed,
         missing, corrupt, orphaned, backfilled)
       VALUES ($1, $2, now(), $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (dataset) DO UPDATE SET started_at = excluded.started_at, finished_at = excluded.finished_at,
         deep = excluded.deep, files_checked = excluded.files_checked, objects_listed = excluded.objects_listed,
         missing = excluded.missing, corrupt = excluded.corrupt, orphaned = excluded.orphaned, backfilled = excluded.backfilled`,
      [
        dataset,
        figures.startedAt,
        figures.deep,
        figures.filesChecked,
        figures.objectsListed,
        figures.missing,
        figures.corrupt,
        figures.orphaned,
        figures.backfilled,
      ],
    );
  }

  /** The dataset's integrity as the catalog knows it now: unreadable files, orphans and gaps (at most `limit` of each). */
  async report(
    dataset: string,
    limit: number,
  ): Promise<{
    lastCheck: Record<string, unknown> | null;
    unreadable: Record<string, unknown>[];
    orphaned: Record<string, unknown>[];
    gaps: Record<string, unknown>[];
  }> {
    const [check, unreadable, orphaned, gaps] = await Promise.all([
      this.pool.query(`SELECT * FROM ${this.table('integrity_checks')} WHERE dataset = $1`, [dataset]),
      this.pool.query(
        `SELECT object_key AS key, state, source_topic AS "sourceTopic", source_partition AS partition,
                first_offset::text AS "fromOffset", last_offset::text AS "toOffset", state_detail AS detail, checked_at AS "checkedAt"
           FROM ${this.table('files')} WHERE dataset = $1 AND state <> 'ok' ORDER BY object_key LIMIT $2`,
        [dataset, limit],
      ),
      this.pool.query(
        `SELECT object_key AS key, byte_size::text AS bytes, last_modified AS "lastModified", found_at AS "foundAt"
           FROM ${this.table('orphan_objects')} WHERE dataset = $1 ORDER BY object_key LIMIT $2`,
        [dataset, limit],
      ),
      this.pool.query(
        `SELECT object_key AS key, source_topic AS "sourceTopic", source_partition AS partition, first_offset::text AS "fromOffset",
                last_offset::text AS "toOffset", row_count::text AS rows, reason, lost_at AS "lostAt"
           FROM ${this.table('lost_files')} WHERE dataset = $1 ORDER BY source_topic, source_partition, first_offset LIMIT $2`,
        [dataset, limit],
      ),
    ]);
    const last = check.rows[0] as Record<string, unknown> | undefined;
    return {
      lastCheck: last
        ? {
            startedAt: last['started_at'],
            finishedAt: last['finished_at'],
            deep: last['deep'],
            filesChecked: Number(last['files_checked']),
            objectsListed: Number(last['objects_listed']),
            missing: Number(last['missing']),
            corrupt: Number(last['corrupt']),
            orphaned: Number(last['orphaned']),
            backfilled: Number(last['backfilled']),
          }
        : null,
      unreadable: unreadable.rows,
      orphaned: orphaned.rows,
      gaps: gaps.rows,
    };
  }

  /** The repaired file is the committed one again: its new size and checksums, state ok (every other column, its epoch too, kept). */
  async restore(key: string, bytes: number, sha256: string, storeChecksum: string | null): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE ${this.table('files')}
          SET byte_size = $2, checksum_sha256 = $3, store_checksum = $4, checksum_source = 'commit', state = 'ok',
              state_detail = NULL, checked_at = now()
        WHERE object_key = $1 AND state <> 'ok'`,
      [key, bytes, sha256, storeChecksum],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Moves a file whose records are gone from Kafka too into `lost_files` (its whole row kept), in one transaction. */
  async markLost(key: string, reason: string): Promise<boolean> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rowCount } = await client.query(
        `WITH gone AS (DELETE FROM ${this.table('files')} WHERE object_key = $1 AND state <> 'ok' RETURNING *)
         INSERT INTO ${this.table('lost_files')} (object_key, dataset, source_topic, source_partition, first_offset, last_offset,
           partition_date, partition_hour, row_count, min_event_time_ns, max_event_time_ns, symbols, reason, file_row)
         SELECT object_key, dataset, source_topic, source_partition, first_offset, last_offset, partition_date, partition_hour,
                row_count, min_event_time_ns, max_event_time_ns, symbols, $2, to_jsonb(gone) FROM gone
         ON CONFLICT (object_key) DO UPDATE SET reason = excluded.reason, file_row = excluded.file_row, lost_at = now()`,
        [key, reason],
      );
      await client.query('COMMIT');
      return (rowCount ?? 0) > 0;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** The newest epoch of `topic` when the catalog has epochs (null otherwise). */
  async currentEpoch(topic: string): Promise<number | null> {
    if (!(await this.hasTable('topic_epochs'))) return null;
    const { rows } = await this.pool.query(
      `SELECT max(epoch) AS epoch FROM ${this.table('topic_epochs')} WHERE source_topic = $1`,
      [topic],
    );
    return rows[0]?.epoch == null ? null : Number(rows[0].epoch);
  }

  private readonly tables = new Map<string, boolean>();

  private async hasTable(name: string): Promise<boolean> {
    const known = this.tables.get(name);
    if (known !== undefined) return known;
    const { rows } = await this.pool.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [
      `${quoteIdentifier(this.schema)}.${name}`,
    ]);
    const present = Boolean(rows[0]?.present);
    if (present) this.tables.set(name, true);
    return present;
  }

  private table(name: string): string {
    return `${quoteIdentifier(this.schema)}.${name}`;
  }
}
