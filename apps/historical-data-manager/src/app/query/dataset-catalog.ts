import type { Pool } from 'pg';
import { topicSpec } from '@tributary/contracts';
import { hourPartitionOf } from '../archive/archive-layout';
import { quoteIdentifier } from '../archive/catalog-migrations';
import { archiveColumnsOf, type ArchiveColumnType } from '../archive/parquet-partition-writer';
import type { ArchivedDataset } from '../archive/topic-archiver';
import type { FileState, UnreadableFile } from '../integrity/archive-file-state';

/** SQL type of a column as a query returns it (`unknown`: a column only older files hold, of a topic no longer known). */
export type DatasetColumnType = ArchiveColumnType | 'INTEGER' | 'TIMESTAMPTZ' | 'unknown';

export interface DatasetColumn {
  name: string;
  type: DatasetColumnType;
}

/** A dataset as the catalog (and this instance's configuration) knows it. */
export interface DatasetDescription {
  name: string;
  sourceTopic: string;
  schemaVersion: number;
  partitioning: string;
  retentionDays: number | null;
  columns: DatasetColumn[];
  /** The column a `symbols` filter applies to (`symbol`, else `underlying`); null when there is none. */
  symbolColumn: string | null;
  files: number;
  rows: number;
  bytes: number;
  /** Smallest and largest event time over the committed files, epoch ns; null before the first file. */
  minEventTimeNs: bigint | null;
  maxEventTimeNs: bigint | null;
  /** Whether this instance archives the dataset (so it may hold rows not yet flushed). */
  archivedHere: boolean;
  /** Files found missing or corrupt, files lost (gaps), objects no file owns; the last verification. */
  missingFiles: number;
  corruptFiles: number;
  lostFiles: number;
  orphanedObjects: number;
  verifiedAt: string | null;
}

/** An offset range of a source partition the archive no longer holds and Kafka no longer has. */
export interface ArchiveGap {
  sourceTopic: string;
  partition: number;
  fromOffset: string;
  toOffset: string;
  rows: number;
  reason: string;
  objectKey: string;
  lostAt: string;
}

/** A committed file selected for a query. */
export interface SelectedFile {
  key: string;
  bytes: number;
  rows: number;
  sourcePartition: number;
  firstOffset: bigint;
  lastOffset: bigint;
  /** Smallest event time in the file, epoch ns (files come ordered by it). */
  minEventTimeNs: bigint;
  columns: string[];
  sourceTopic: string;
  /** The archive epoch of the file's offsets (offsets restart when a topic is re-created or archived from another cluster). */
  epoch: number;
  /** What the last check or read found of the object. */
  state: FileState;
  stateDetail: string | null;
  /** SHA-256 of the object (base64) when the catalog has it: a fetch is checked against it. */
  sha256: string | null;
}

const LEADING: DatasetColumn[] = [
  { name: 'kafka_partition', type: 'INTEGER' },
  { name: 'kafka_offset', type: 'BIGINT' },
  { name: 'record_key', type: 'VARCHAR' },
];
const TRAILING: DatasetColumn[] = [
  { name: 'ts', type: 'BIGINT' },
  { name: 'event_time', type: 'TIMESTAMPTZ' },
];

/** PostgreSQL errors meaning the catalog was never created: no dataset exists yet. */
const NO_CATALOG = new Set(['3F000', '42P01']);

interface DatasetRow {
  name: string;
  source_topic: string;
  schema_version: number;
  partitioning: string;
  retention_days: number | null;
  files: string;
  rows: string;
  bytes: string;
  min_ns: string | null;
  max_ns: string | null;
  stat_columns: string[] | null;
  missing?: string;
  corrupt?: string;
  lost?: string;
  orphaned?: string;
  verified_at?: Date | null;
}

/**
 * The read side of the archive catalog for the query API. The catalog is the truth for readers:
 * only files with a committed `files` row are ever selected.
 */
export class DatasetCatalog {
  private readonly configured = new Map<string, ArchivedDataset>();

  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
    /** The datasets this instance archives. */
    configured: readonly ArchivedDataset[],
  ) {
    for (const dataset of configured) this.configured.set(dataset.name, dataset);
  }

  /** Every dataset: committed in the catalog, or archived by this instance and not flushed yet. */
  async list(): Promise<DatasetDescription[]> {
    const rows = await this.datasetRows(null);
    const byName = new Map(rows.map((row) => [row.name, this.describe(row)]));
    for (const name of this.configured.keys()) {
      if (!byName.has(name)) byName.set(name, this.describe(null, name));
    }
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * One dataset, or null when neither the catalog nor this instance knows it. Without `figures`
   * (what a rows query needs: its columns) the file counts and time range are left at zero, and
   * the columns only older files hold come from a list refreshed at most every 30 s: a query then
   * costs one indexed catalog lookup, not a pass over every file of the dataset.
   */
  async get(name: string, figures = true): Promise<DatasetDescription | null> {
    if (figures) {
      const [row] = await this.datasetRows(name);
      if (row) return this.describe(row);
    } else {
      const [row] = (await this.query(
        `SELECT name, source_topic, schema_version, partitioning, retention_days,
                '0' AS files, '0' AS rows, '0' AS bytes, NULL AS min_ns, NULL AS max_ns, NULL AS stat_columns
           FROM ${this.table('datasets')} WHERE name = $1`,
        [name],
      )) as DatasetRow[];
      if (row) return this.describe({ ...row, stat_columns: await this.statColumns(name) });
    }
    return this.configured.has(name) ? this.describe(null, name) : null;
  }

  private readonly statColumnsCache = new Map<string, { at: number; columns: Promise<string[]> }>();

  /** Every column name found in the dataset's files (cached 30 s). */
  private statColumns(dataset: string): Promise<string[]> {
    const cached = this.statColumnsCache.get(dataset);
    if (cached && Date.now() - cached.at < 30_000) return cached.columns;
    const columns = this.query(
      `SELECT coalesce(array_agg(DISTINCT k), '{}') AS columns
         FROM ${this.table('files')} f, jsonb_object_keys(f.column_stats) k WHERE f.dataset = $1`,
      [dataset],
    ).then((rows) => ((rows[0] as { columns?: string[] } | undefined)?.columns ?? []) as string[]);
    columns.catch(() => this.statColumnsCache.delete(dataset));
    this.statColumnsCache.set(dataset, { at: Date.now(), columns });
    return columns;
  }

  /**
   * The committed files that may hold rows of `[fromNs, toNs)` for `symbols`: pruned by Hive
   * partition (date and hour of the range), then by each file's event-time range and symbols.
   * With `snapshot`, the files that snapshot recorded instead of the current ones.
   */
  async files(
    dataset: string,
    fromNs: bigint,
    toNs: bigint,
    symbols: readonly string[],
    snapshot: string | null = null,
  ): Promise<SelectedFile[]> {
    const first = hourPartitionOf(fromNs);
    const last = hourPartitionOf(toNs - 1n);
    // one statement: a compaction swapping files meanwhile is seen entirely or not at all
    const rows = (await this.query(
      `SELECT object_key, byte_size, row_count, source_topic, source_partition, first_offset, last_offset, min_event_time_ns,
              epoch, ARRAY(SELECT jsonb_object_keys(column_stats)) AS columns,
              ${
                snapshot === null
                  ? 'state, state_detail, checksum_sha256'
                  : `coalesce(c.state, 'ok') AS state, c.state_detail, c.checksum_sha256`
              }
         FROM ${
           snapshot === null
             ? this.table('files')
             : `${this.table('snapshot_files')} t LEFT JOIN LATERAL
                  (SELECT state, state_detail, checksum_sha256 FROM ${this.table('files')} x WHERE x.object_key = t.object_key) c ON true`
         }
        WHERE dataset = $1 AND ${snapshot === null ? '$9::text IS NULL' : 'snapshot = $9'}
          AND (partition_date, partition_hour) >= ($2::date, $3::smallint)
          AND (partition_date, partition_hour) <= ($4::date, $5::smallint)
          AND max_event_time_ns >= $6 AND min_event_time_ns < $7
          AND ($8::text[] IS NULL OR symbols && $8::text[])
        ORDER BY min_event_time_ns, source_partition, first_offset`,
      [
        dataset,
        first.date,
        first.hour,
        last.date,
        last.hour,
        fromNs.toString(),
        toNs.toString(),
        symbols.length > 0 ? symbols : null,
        snapshot,
      ],
    )) as {
      object_key: string;
      byte_size: string;
      row_count: string;
      source_topic: string;
      state: FileState;
      state_detail: string | null;
      checksum_sha256: string | null;
      source_partition: number;
      first_offset: string;
      last_offset: string;
      min_event_time_ns: string;
      epoch: number;
      columns: string[];
    }[];
    return rows.map((r) => ({
      key: r.object_key,
      bytes: Number(r.byte_size),
      rows: Number(r.row_count),
      sourcePartition: r.source_partition,
      firstOffset: BigInt(r.first_offset),
      lastOffset: BigInt(r.last_offset),
      minEventTimeNs: BigInt(r.min_event_time_ns),
      columns: r.columns,
      sourceTopic: r.source_topic,
      epoch: r.epoch,
      state: r.state,
      stateDetail: r.state_detail,
      sha256: r.checksum_sha256,
    }));
  }

  /** The lost files (gaps) that held rows of `[fromNs, toNs)` for `symbols`. */
  async lostFiles(dataset: string, fromNs: bigint, toNs: bigint, symbols: readonly string[]): Promise<UnreadableFile[]> {
    const rows = (await this.query(
      `SELECT object_key, source_topic, source_partition, first_offset::text, last_offset::text, reason
         FROM ${this.table('lost_files')}
        WHERE dataset = $1 AND max_event_time_ns >= $2 AND min_event_time_ns < $3
          AND ($4::text[] IS NULL OR symbols && $4::text[])
        ORDER BY min_event_time_ns, source_partition, first_offset`,
      [dataset, fromNs.toString(), toNs.toString(), symbols.length > 0 ? symbols : null],
    )) as { object_key: string; source_topic: string; source_partition: number; first_offset: string; last_offset: string; reason: string }[];
    return rows.map((r) => ({
      key: r.object_key,
      state: 'lost',
      sourceTopic: r.source_topic,
      partition: r.source_partition,
      fromOffset: r.first_offset,
      toOffset: r.last_offset,
      detail: r.reason,
    }));
  }

  /** Every gap of the datasets named (at most `limit` each, in offset order). */
  async gaps(datasets: readonly string[], limit = 1000): Promise<Map<string, ArchiveGap[]>> {
    const rows = (await this.query(
      `SELECT dataset, object_key, source_topic, source_partition, first_offset::text, last_offset::text, row_count::text,
              reason, lost_at
         FROM (SELECT *, row_number() OVER (PARTITION BY dataset ORDER BY source_topic, source_partition, first_offset) AS n
                 FROM ${this.table('lost_files')} WHERE dataset = ANY($1::text[])) g
        WHERE n <= $2 ORDER BY dataset, source_topic, source_partition, first_offset`,
      [datasets, limit],
    )) as Record<string, unknown>[];
    const gaps = new Map<string, ArchiveGap[]>();
    for (const r of rows) {
      const list = gaps.get(String(r['dataset'])) ?? [];
      list.push({
        sourceTopic: String(r['source_topic']),
        partition: Number(r['source_partition']),
        fromOffset: String(r['first_offset']),
        toOffset: String(r['last_offset']),
        rows: Number(r['row_count']),
        reason: String(r['reason']),
        objectKey: String(r['object_key']),
        lostAt: (r['lost_at'] as Date).toISOString(),
      });
      gaps.set(String(r['dataset']), list);
    }
    return gaps;
  }

  /**
   * Records that a read found `key` missing or corrupt (only a file still thought `ok` changes:
   * the verification job's finding, with its detail, stays).
   */
  async markUnreadable(key: string, state: Exclude<FileState, 'ok'>, detail: string): Promise<void> {
    await this.query(
      `UPDATE ${this.table('files')} SET state = $2, state_detail = $3, checked_at = now() WHERE object_key = $1 AND state = 'ok'`,
      [key, state, detail],
    );
  }

  /** Whether `snapshot` exists and holds `dataset`. */
  async snapshotHolds(snapshot: string, dataset: string): Promise<'yes' | 'unknown snapshot' | 'not in snapshot'> {
    const [row] = (await this.query(`SELECT $2 = ANY(datasets) AS holds FROM ${this.table('snapshots')} WHERE name = $1`, [
      snapshot,
      dataset,
    ])) as { holds: boolean }[];
    if (row === undefined) return 'unknown snapshot';
    return row.holds ? 'yes' : 'not in snapshot';
  }

  private async datasetRows(name: string | null): Promise<DatasetRow[]> {
    return (await this.query(
      `SELECT d.name, d.source_topic, d.schema_version, d.partitioning, d.retention_days,
              count(f.id)::text AS files, coalesce(sum(f.row_count), 0)::text AS rows,
              coalesce(sum(f.byte_size), 0)::text AS bytes,
              min(f.min_event_time_ns)::text AS min_ns, max(f.max_event_time_ns)::text AS max_ns,
              (SELECT array_agg(DISTINCT k) FROM ${this.table('files')} f2, jsonb_object_keys(f2.column_stats) k
                WHERE f2.dataset = d.name) AS stat_columns,
              count(f.id) FILTER (WHERE f.state = 'missing')::text AS missing,
              count(f.id) FILTER (WHERE f.state = 'corrupt')::text AS corrupt,
              (SELECT count(*) FROM ${this.table('lost_files')} l WHERE l.dataset = d.name)::text AS lost,
              (SELECT count(*) FROM ${this.table('orphan_objects')} o WHERE o.dataset = d.name)::text AS orphaned,
              (SELECT finished_at FROM ${this.table('integrity_checks')} c WHERE c.dataset = d.name) AS verified_at
         FROM ${this.table('datasets')} d LEFT JOIN ${this.table('files')} f ON f.dataset = d.name
        WHERE $1::text IS NULL OR d.name = $1
        GROUP BY d.name ORDER BY d.name`,
      [name],
    )) as DatasetRow[];
  }

  private describe(row: DatasetRow | null, name = row?.name as string): DatasetDescription {
    const configured = this.configured.get(name);
    const sourceTopic = row?.source_topic ?? configured?.topic ?? name;
    const valueColumns: DatasetColumn[] = (
      configured?.columns ?? archiveColumnsOfTopic(sourceTopic) ?? []
    ).map((c) => ({ name: c.name, type: c.type }));
    const known = new Set([...LEADING, ...valueColumns, ...TRAILING].map((c) => c.name));
    // columns found in older files only (a schema that dropped a field, a topic no longer known)
    for (const extra of (row?.stat_columns ?? []).filter((c) => !known.has(c)).sort()) {
      valueColumns.push({ name: extra, type: 'unknown' });
    }
    const names = new Set(valueColumns.map((c) => c.name));
    return {
      name,
      sourceTopic,
      schemaVersion: row?.schema_version ?? configured?.schemaVersion ?? 1,
      partitioning: row?.partitioning ?? 'date=YYYY-MM-DD/hour=HH',
      retentionDays: row?.retention_days ?? configured?.retentionDays ?? null,
      columns: [...LEADING, ...valueColumns, ...TRAILING],
      symbolColumn: names.has('symbol') ? 'symbol' : names.has('underlying') ? 'underlying' : null,
      files: Number(row?.files ?? 0),
      rows: Number(row?.rows ?? 0),
      bytes: Number(row?.bytes ?? 0),
      minEventTimeNs: row?.min_ns == null ? null : BigInt(row.min_ns),
      maxEventTimeNs: row?.max_ns == null ? null : BigInt(row.max_ns),
      archivedHere: configured !== undefined,
      missingFiles: Number(row?.missing ?? 0),
      corruptFiles: Number(row?.corrupt ?? 0),
      lostFiles: Number(row?.lost ?? 0),
      orphanedObjects: Number(row?.orphaned ?? 0),
      verifiedAt: row?.verified_at ? row.verified_at.toISOString() : null,
    };
  }

  private async query(sql: string, parameters: unknown[]): Promise<unknown[]> {
    try {
      return (await this.pool.query(sql, parameters)).rows;
    } catch (error) {
      if (NO_CATALOG.has((error as { code?: string }).code ?? '')) return [];
      throw error;
    }
  }

  private table(name: string): string {
    return `${quoteIdentifier(this.schema)}.${name}`;
  }
}

function archiveColumnsOfTopic(topic: string): ReturnType<typeof archiveColumnsOf> | undefined {
  const spec = topicSpec(topic);
  return spec ? archiveColumnsOf(spec.schema) : undefined;
}
