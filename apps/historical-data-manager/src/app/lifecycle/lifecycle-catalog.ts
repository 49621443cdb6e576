import type { Pool, PoolClient } from 'pg';
import { quoteIdentifier } from '../archive/catalog-migrations';
import type { CompactionCandidate, PlannedCompaction } from './compaction-plan';

/** The merged file of a compaction, ready to enter the catalog. */
export interface CompactedFile {
  key: string;
  rows: number;
  bytes: number;
  columnStats: Record<string, { min: string | null; max: string | null; nulls: number }>;
  /** SHA-256 of the object (base64) and the checksum the store answered for it (null: none). */
  sha256: string;
  storeChecksum: string | null;
}

export type CompactionTrigger = 'api' | 'schedule';
export type CompactionStatus = 'running' | 'committed' | 'conflict' | 'failed' | 'abandoned';

/** A row of the compaction history. */
export interface CompactionRecord {
  id: string;
  dataset: string;
  date: string;
  hour: number;
  sourceTopic: string;
  sourcePartition: number;
  schemaVersion: number;
  trigger: CompactionTrigger;
  status: CompactionStatus;
  inputFiles: number;
  inputRows: number;
  inputBytes: number;
  outputKey: string | null;
  outputBytes: number | null;
  error: string | null;
  instance: string;
  startedAt: string;
  finishedAt: string | null;
}

/** What a snapshot holds of one dataset. */
export interface SnapshotDataset {
  name: string;
  files: number;
  rows: number;
  bytes: number;
  fromNs: string | null;
  toNs: string | null;
}

export interface SnapshotDescription {
  name: string;
  createdAt: string;
  datasets: SnapshotDataset[];
}

/** An hour partition of a dataset. */
export interface DatasetPartition {
  dataset: string;
  date: string;
  hour: number;
}

/** What retention took out of the catalog for one dataset. */
export interface RetiredFigures {
  files: number;
  rows: number;
  bytes: number;
}

/** Every retired object whose compaction or retention left it behind, with what still holds it. */
export interface RetiredObject {
  key: string;
  dataset: string;
}

/** PostgreSQL errors meaning the catalog was never created. */
const NO_CATALOG = new Set(['3F000', '42P01']);

/**
 * The lifecycle's side of the archive catalog: compaction swaps and history, retention, the
 * retired objects waiting for deletion, and snapshots.
 *
 * `files` holds only the current files. Compaction and retention move files out of it into
 * `retired_files` in one transaction; the object is deleted once its grace period is over and no
 * snapshot pins it. Those transactions and snapshot creation take one advisory lock per catalog,
 * so a snapshot either saw a file before it was retired (and its pin is committed before the
 * retirement is) or never sees it: a retired object can never be pinned later.
 */
export class LifecycleCatalog {
  private readonly lockName: string;

  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
  ) {
    this.lockName = `tributary.lifecycle.${schema}`;
  }

  async datasetNames(): Promise<string[]> {
    const rows = await this.rows<{ name: string }>(`SELECT name FROM ${this.table('datasets')} ORDER BY name`, []);
    return rows.map((r) => r.name);
  }

  async datasetExists(name: string): Promise<boolean> {
    const rows = await this.rows(`SELECT 1 FROM ${this.table('datasets')} WHERE name = $1`, [name]);
    return rows.length > 0;
  }

  /**
   * Hour partitions holding at least `minFiles` files below `targetBytes` (archived files only:
   * gold datasets are replaced by their own runs), oldest first. `settledBefore`: only hours that
   * ended before it.
   */
  async partitionsToCompact(
    filter: { dataset: string | null; date: string | null; hour: number | null; settledBefore: Date | null },
    targetBytes: number,
    minFiles: number,
    limit: number,
  ): Promise<DatasetPartition[]> {
    const rows = await this.rows<{ dataset: string; date: string; hour: number }>(
      `SELECT dataset, to_char(partition_date, 'YYYY-MM-DD') AS date, partition_hour AS hour
         FROM ${this.table('files')}
        WHERE byte_size < $1 AND source_topic NOT LIKE 'gold:%'
          AND ($2::text IS NULL OR dataset = $2)
          AND ($3::date IS NULL OR partition_date = $3)
          AND ($4::smallint IS NULL OR partition_hour = $4)
          AND ($5::timestamp IS NULL OR partition_date + make_interval(hours => partition_hour + 1) <= $5::timestamp)
        GROUP BY dataset, partition_date, partition_hour
       HAVING count(*) >= $6
        ORDER BY partition_date, partition_hour, dataset
        LIMIT $7`,
      [
        targetBytes,
        filter.dataset,
        filter.date,
        filter.hour,
        filter.settledBefore?.toISOString().replace('T', ' ').replace('Z', '') ?? null,
        minFiles,
        limit,
      ],
    );
    return rows.map((r) => ({ dataset: r.dataset, date: r.date, hour: Number(r.hour) }));
  }

  /** The files of one hour partition below `targetBytes`, that compaction may merge. */
  async candidates(partition: DatasetPartition, targetBytes: number): Promise<CompactionCandidate[]> {
    const rows = await this.rows<Record<string, unknown>>(
      `SELECT object_key, byte_size, row_count, to_char(partition_date, 'YYYY-MM-DD') AS partition_date, partition_hour,
              source_topic, source_partition, schema_version, first_offset, last_offset,
              min_event_time_ns, max_event_time_ns, symbols, epoch, kafka_cluster_id, kafka_topic_id
         FROM ${this.table('files')} f
        WHERE dataset = $1 AND partition_date = $2::date AND partition_hour = $3
          AND byte_size < $4 AND source_topic NOT LIKE 'gold:%'
          -- a source partition with a missing or corrupt file waits for its repair (same offsets, same key)
          AND NOT EXISTS (SELECT 1 FROM ${this.table('files')} u
                           WHERE u.dataset = f.dataset AND u.state <> 'ok' AND u.partition_date = f.partition_date
                             AND u.partition_hour = f.partition_hour AND u.source_topic = f.source_topic
                             AND u.source_partition = f.source_partition)
        ORDER BY source_topic, source_partition, first_offset`,
      [partition.dataset, partition.date, partition.hour, targetBytes],
    );
    return rows.map((r) => ({
      key: String(r['object_key']),
      bytes: Number(r['byte_size']),
      rows: Number(r['row_count']),
      partitionDate: String(r['partition_date']),
      partitionHour: Number(r['partition_hour']),
      sourceTopic: String(r['source_topic']),
      sourcePartition: Number(r['source_partition']),
      schemaVersion: Number(r['schema_version']),
      firstOffset: BigInt(r['first_offset'] as string),
      lastOffset: BigInt(r['last_offset'] as string),
      minEventTimeNs: BigInt(r['min_event_time_ns'] as string),
      maxEventTimeNs: BigInt(r['max_event_time_ns'] as string),
      symbols: r['symbols'] as string[],
      epoch: Number(r['epoch']),
      kafkaClusterId: r['kafka_cluster_id'] as string | null,
      kafkaTopicId: r['kafka_topic_id'] as string | null,
    }));
  }

  /** Records a compaction as running; returns its id. */
  async beginCompaction(plan: PlannedCompaction, trigger: CompactionTrigger, instance: string): Promise<string> {
    const [row] = await this.rows<{ id: string }>(
      `INSERT INTO ${this.table('compactions')} (dataset, partition_date, partition_hour, source_topic, source_partition,
         schema_version, trigger, status, input_files, input_rows, input_bytes, instance)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9, $10, $11) RETURNING id::text AS id`,
      [
        plan.dataset,
        plan.partitionDate,
        plan.partitionHour,
        plan.sourceTopic,
        plan.sourcePartition,
        plan.schemaVersion,
        trigger,
        plan.inputs.length,
        plan.inputs.reduce((sum, f) => sum + f.rows, 0),
        plan.inputs.reduce((sum, f) => sum + f.bytes, 0),
        instance,
      ],
    );
    return (row as { id: string }).id;
  }

  /** Notes the object a running compaction writes (so a crash leaves nothing unaccounted for). */
  async noteCompactionOutput(id: string, key: string): Promise<void> {
    await this.pool.query(`UPDATE ${this.table('compactions')} SET output_key = $2 WHERE id = $1`, [id, key]);
  }

  /**
   * The swap, in one transaction: the inputs leave `files` (all of them, or the compaction is a
   * `conflict` and nothing changes), the merged file enters it, the inputs wait in `retired_files`
   * for `graceMs`, and the history row says `committed`. A query selects its files in one
   * statement, so it sees either every input or the merged file.
   */
  async commitCompaction(id: string, plan: PlannedCompaction, output: CompactedFile, graceMs: number): Promise<'committed' | 'conflict'> {
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.lockName]);
      const keys = plan.inputs.map((f) => f.key);
      const removed = await client.query(
        `DELETE FROM ${this.table('files')} WHERE dataset = $1 AND object_key = ANY($2::text[]) RETURNING object_key`,
        [plan.dataset, keys],
      );
      if (removed.rowCount !== keys.length) {
        await client.query('ROLLBACK');
        return 'conflict';
      }
      const first = plan.inputs.reduce((min, f) => (f.firstOffset < min ? f.firstOffset : min), plan.inputs[0]?.firstOffset as bigint);
      const last = plan.inputs.reduce((max, f) => (f.lastOffset > max ? f.lastOffset : max), plan.inputs[0]?.lastOffset as bigint);
      const minTs = plan.inputs.reduce((min, f) => (f.minEventTimeNs < min ? f.minEventTimeNs : min), plan.inputs[0]?.minEventTimeNs as bigint);
      const maxTs = plan.inputs.reduce((max, f) => (f.maxEventTimeNs > max ? f.maxEventTimeNs : max), plan.inputs[0]?.maxEventTimeNs as bigint);
      const symbols = [...new Set(plan.inputs.flatMap((f) => f.symbols))].sort();
      await client.query(
        `INSERT INTO ${this.table('files')} (dataset, object_key, partition_date, partition_hour, source_topic,
           source_partition, first_offset, last_offset, row_count, byte_size, min_event_time_ns, max_event_time_ns,
           symbols, column_stats, schema_version, checksum_sha256, store_checksum, checksum_source,
           epoch, kafka_cluster_id, kafka_topic_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'commit',
           $18, $19, $20)`,
        [
          plan.dataset,
          output.key,
          plan.partitionDate,
          plan.partitionHour,
          plan.sourceTopic,
          plan.sourcePartition,
          first.toString(),
          last.toString(),
          output.rows,
          output.bytes,
          minTs.toString(),
          maxTs.toString(),
          symbols,
          JSON.stringify(output.columnStats),
          plan.schemaVersion,
          output.sha256,
          output.storeChecksum,
          plan.inputs[0]?.epoch ?? 1,
          plan.inputs[0]?.kafkaClusterId ?? null,
          plan.inputs[0]?.kafkaTopicId ?? null,
        ],
      );
      await client.query(
        `INSERT INTO ${this.table('retired_files')} (object_key, dataset, reason, compaction_id, byte_size, delete_after)
         SELECT k, $2, 'compaction', $3, b, now() + make_interval(secs => $5::double precision / 1000)
           FROM unnest($1::text[], $4::bigint[]) AS i(k, b)
         ON CONFLICT (object_key) DO NOTHING`,
        [keys, plan.dataset, id, plan.inputs.map((f) => f.bytes), graceMs],
      );
      await client.query(
        `UPDATE ${this.table('compactions')} SET status = 'committed', output_key = $2, output_bytes = $3, finished_at = now()
          WHERE id = $1`,
        [id, output.key, output.bytes],
      );
      return 'committed';
    });
  }

  async finishCompaction(id: string, status: Exclude<CompactionStatus, 'running' | 'committed'>, error: string | null): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.table('compactions')} SET status = $2, error = $3, finished_at = now() WHERE id = $1`,
      [id, status, error],
    );
  }

  /**
   * Compactions still `running` after `olderThanMs` (their instance died): marked `abandoned`;
   * returns the objects they may have uploaded that the catalog does not list, to delete.
   */
  async abandonStaleCompactions(olderThanMs: number): Promise<string[]> {
    const rows = await this.rows<{ output_key: string | null }>(
      `UPDATE ${this.table('compactions')} c SET status = 'abandoned', finished_at = now(), error = 'the instance running it stopped'
        WHERE status = 'running' AND started_at < now() - make_interval(secs => $1::double precision / 1000)
        RETURNING output_key`,
      [olderThanMs],
    );
    const keys = rows.map((r) => r.output_key).filter((k): k is string => k !== null);
    if (keys.length === 0) return [];
    const listed = await this.rows<{ object_key: string }>(
      `SELECT object_key FROM ${this.table('files')} WHERE object_key = ANY($1::text[])`,
      [keys],
    );
    const held = new Set(listed.map((r) => r.object_key));
    return keys.filter((k) => !held.has(k));
  }

  /** The compaction history of a dataset, newest first. */
  async compactions(dataset: string, limit: number): Promise<CompactionRecord[]> {
    const rows = await this.rows<Record<string, unknown>>(
      `SELECT id::text AS id, dataset, to_char(partition_date, 'YYYY-MM-DD') AS date, partition_hour, source_topic,
              source_partition, schema_version, trigger, status, input_files, input_rows, input_bytes, output_key,
              output_bytes, error, instance, started_at, finished_at
         FROM ${this.table('compactions')} WHERE dataset = $1 ORDER BY started_at DESC, id DESC LIMIT $2`,
      [dataset, limit],
    );
    return rows.map((r) => ({
      id: String(r['id']),
      dataset: String(r['dataset']),
      date: String(r['date']),
      hour: Number(r['partition_hour']),
      sourceTopic: String(r['source_topic']),
      sourcePartition: Number(r['source_partition']),
      schemaVersion: Number(r['schema_version']),
      trigger: r['trigger'] as CompactionTrigger,
      status: r['status'] as CompactionStatus,
      inputFiles: Number(r['input_files']),
      inputRows: Number(r['input_rows']),
      inputBytes: Number(r['input_bytes']),
      outputKey: (r['output_key'] as string | null) ?? null,
      outputBytes: r['output_bytes'] == null ? null : Number(r['output_bytes']),
      error: (r['error'] as string | null) ?? null,
      instance: String(r['instance']),
      startedAt: (r['started_at'] as Date).toISOString(),
      finishedAt: r['finished_at'] == null ? null : (r['finished_at'] as Date).toISOString(),
    }));
  }

  /** Records the retention in force for a dataset, so `GET /v1/datasets` shows it. */
  async setRetentionDays(dataset: string, days: number | null): Promise<void> {
    await this.pool.query(
      `UPDATE ${this.table('datasets')} SET retention_days = $2 WHERE name = $1 AND retention_days IS DISTINCT FROM $2`,
      [dataset, days],
    );
  }

  /** Takes every file of `dataset` whose newest event is before `cutoffNs` out of the catalog; objects follow after `graceMs`. */
  async retire(dataset: string, cutoffNs: bigint, graceMs: number): Promise<RetiredFigures> {
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.lockName]);
      const { rows } = await client.query(
        `WITH gone AS (
           DELETE FROM ${this.table('files')} WHERE dataset = $1 AND max_event_time_ns < $2
           RETURNING object_key, byte_size, row_count
         ), kept AS (
           INSERT INTO ${this.table('retired_files')} (object_key, dataset, reason, byte_size, delete_after)
           SELECT object_key, $1, 'retention', byte_size, now() + make_interval(secs => $3::double precision / 1000) FROM gone
           ON CONFLICT (object_key) DO NOTHING
         )
         SELECT count(*)::int AS files, coalesce(sum(row_count), 0)::text AS rows, coalesce(sum(byte_size), 0)::text AS bytes FROM gone`,
        [dataset, cutoffNs.toString(), graceMs],
      );
      const r = rows[0] as { files: number; rows: string; bytes: string };
      return { files: r.files, rows: Number(r.rows), bytes: Number(r.bytes) };
    });
  }

  /** Retired objects whose grace period is over, that no snapshot pins and the catalog does not list again. */
  async deletableObjects(limit: number): Promise<RetiredObject[]> {
    const rows = await this.rows<{ object_key: string; dataset: string }>(
      `SELECT r.object_key, r.dataset FROM ${this.table('retired_files')} r
        WHERE r.delete_after <= now()
          AND NOT EXISTS (SELECT 1 FROM ${this.table('snapshot_files')} s WHERE s.object_key = r.object_key)
          AND NOT EXISTS (SELECT 1 FROM ${this.table('files')} f WHERE f.object_key = r.object_key)
        ORDER BY r.delete_after LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({ key: r.object_key, dataset: r.dataset }));
  }

  /** Retired objects still in the bucket (waiting for their grace period or pinned by a snapshot). */
  async retiredObjects(dataset: string): Promise<{ key: string; reason: string; deleteAfter: string; pinnedBy: string[] }[]> {
    const rows = await this.rows<{ object_key: string; reason: string; delete_after: Date; pinned_by: string[] }>(
      `SELECT r.object_key, r.reason, r.delete_after,
              ARRAY(SELECT s.snapshot FROM ${this.table('snapshot_files')} s WHERE s.object_key = r.object_key ORDER BY 1) AS pinned_by
         FROM ${this.table('retired_files')} r WHERE r.dataset = $1 ORDER BY r.object_key`,
      [dataset],
    );
    return rows.map((r) => ({ key: r.object_key, reason: r.reason, deleteAfter: r.delete_after.toISOString(), pinnedBy: r.pinned_by }));
  }

  async forgetRetired(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.pool.query(`DELETE FROM ${this.table('retired_files')} WHERE object_key = ANY($1::text[])`, [keys]);
  }

  /**
   * Records the current files of `datasets` (every dataset when null) as snapshot `name`. Returns
   * `exists` when the name is taken, or the datasets the catalog does not know.
   */
  /**
   * Records a snapshot of the current files of `datasets` (every dataset when null). Refused with
   * `{ kept }` when `maxSnapshots` exist already (counted under the snapshot lock, so instances
   * creating snapshots at once never pass the quota together).
   */
  async createSnapshot(
    name: string,
    datasets: readonly string[] | null,
    maxSnapshots = Number.MAX_SAFE_INTEGER,
  ): Promise<SnapshotDescription | 'exists' | { unknown: string[] } | { kept: number }> {
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.lockName]);
      const [{ kept, taken }] = (
        await client.query(
          `SELECT count(*)::int AS kept, bool_or(name = $1) AS taken FROM ${this.table('snapshots')}`,
          [name],
        )
      ).rows as [{ kept: number; taken: boolean | null }];
      if (taken !== true && kept >= maxSnapshots) {
        await client.query('ROLLBACK');
        return { kept };
      }
      const known = new Set(
        (await client.query(`SELECT name FROM ${this.table('datasets')}`)).rows.map((r: { name: string }) => r.name),
      );
      const chosen = datasets === null ? [...known].sort() : [...new Set(datasets)];
      const unknown = chosen.filter((d) => !known.has(d));
      if (unknown.length > 0) {
        await client.query('ROLLBACK');
        return { unknown };
      }
      const inserted = await client.query(
        `INSERT INTO ${this.table('snapshots')} (name, datasets) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING name`,
        [name, chosen],
      );
      if (inserted.rowCount === 0) {
        await client.query('ROLLBACK');
        return 'exists';
      }
      await client.query(
        `INSERT INTO ${this.table('snapshot_files')} (snapshot, dataset, object_key, partition_date, partition_hour, source_topic,
           source_partition, first_offset, last_offset, row_count, byte_size, min_event_time_ns, max_event_time_ns, symbols,
           column_stats, schema_version, committed_at, epoch)
         SELECT $1, dataset, object_key, partition_date, partition_hour, source_topic, source_partition, first_offset,
                last_offset, row_count, byte_size, min_event_time_ns, max_event_time_ns, symbols, column_stats,
                schema_version, committed_at, epoch
           FROM ${this.table('files')} WHERE dataset = ANY($2::text[])`,
        [name, chosen],
      );
      return (await this.describeSnapshots(name, client))[0] as SnapshotDescription;
    });
  }

  async snapshots(): Promise<SnapshotDescription[]> {
    return this.describeSnapshots(null);
  }

  async snapshot(name: string): Promise<SnapshotDescription | null> {
    return (await this.describeSnapshots(name))[0] ?? null;
  }

  /**
   * Releases a snapshot. Retired objects it pinned get a fresh grace period (a query reading the
   * snapshot may still be running) and are then deleted unless another snapshot pins them.
   */
  async releaseSnapshot(name: string, graceMs: number): Promise<boolean> {
    return this.transaction(async (client) => {
      await client.query(
        `UPDATE ${this.table('retired_files')}
            SET delete_after = greatest(delete_after, now() + make_interval(secs => $2::double precision / 1000))
          WHERE object_key IN (SELECT object_key FROM ${this.table('snapshot_files')} WHERE snapshot = $1)`,
        [name, graceMs],
      );
      const deleted = await client.query(`DELETE FROM ${this.table('snapshots')} WHERE name = $1`, [name]);
      return deleted.rowCount === 1;
    });
  }

  private async describeSnapshots(name: string | null, client?: PoolClient): Promise<SnapshotDescription[]> {
    const { rows } = await (client ?? this.pool).query(
      `SELECT s.name, s.created_at, d.dataset,
              count(f.object_key)::int AS files, coalesce(sum(f.row_count), 0)::text AS rows,
              coalesce(sum(f.byte_size), 0)::text AS bytes,
              min(f.min_event_time_ns)::text AS from_ns, max(f.max_event_time_ns)::text AS to_ns
         FROM ${this.table('snapshots')} s
         CROSS JOIN LATERAL unnest(s.datasets) AS d(dataset)
         LEFT JOIN ${this.table('snapshot_files')} f ON f.snapshot = s.name AND f.dataset = d.dataset
        WHERE $1::text IS NULL OR s.name = $1
        GROUP BY s.name, s.created_at, d.dataset
        ORDER BY s.created_at, s.name, d.dataset`,
      [name],
    );
    const byName = new Map<string, SnapshotDescription>();
    const empty = await (client ?? this.pool).query(
      `SELECT name, created_at FROM ${this.table('snapshots')} WHERE ($1::text IS NULL OR name = $1) AND cardinality(datasets) = 0`,
      [name],
    );
    for (const r of [...rows, ...empty.rows] as Record<string, unknown>[]) {
      const snapshotName = String(r['name']);
      let snapshot = byName.get(snapshotName);
      if (!snapshot) byName.set(snapshotName, (snapshot = { name: snapshotName, createdAt: (r['created_at'] as Date).toISOString(), datasets: [] }));
      if (r['dataset'] === undefined) continue;
      snapshot.datasets.push({
        name: String(r['dataset']),
        files: Number(r['files']),
        rows: Number(r['rows']),
        bytes: Number(r['bytes']),
        fromNs: (r['from_ns'] as string | null) ?? null,
        toNs: (r['to_ns'] as string | null) ?? null,
      });
    }
    return [...byName.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  }

  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let open = false;
    try {
      await client.query('BEGIN');
      open = true;
      const result = await work(client);
      // a work that rolled back itself leaves no transaction to commit (COMMIT then only warns)
      await client.query('COMMIT');
      open = false;
      return result;
    } catch (error) {
      if (open) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async rows<T>(sql: string, parameters: unknown[]): Promise<T[]> {
    try {
      return (await this.pool.query(sql, parameters)).rows as T[];
    } catch (error) {
      if (NO_CATALOG.has((error as { code?: string }).code ?? '')) return [];
      throw error;
    }
  }

  private table(name: string): string {
    return `${quoteIdentifier(this.schema)}.${name}`;
  }
}
