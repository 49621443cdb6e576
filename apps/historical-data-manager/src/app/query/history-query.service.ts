import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type DuckDBConnection, type DuckDBInstance } from '@duckdb/node-api';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { createS3Client, TributaryMetrics } from '@tributary/observability';
import { Counter, Gauge, Histogram } from 'prom-client';
import { sessionTimeouts } from '@tributary/postgres';
import { Pool } from 'pg';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { HistoricalDataManagerConfig } from '../../config';
import { DependencyUnavailableError, isPostgresUnavailable } from '../archive/archive-dependencies';
import type { ArchiveRecord } from '../archive/parquet-partition-writer';
import { ARCHIVE_CONFIG, TopicArchiveService } from '../archive/topic-archive.service';
import { type EpochListing, listEpochs } from '../archive/topic-epochs';
import {
  ArchiveFilesUnreadableError,
  isNoSuchKey,
  ObjectUnreadableError,
  type UnreadableFile,
  unreadableRangesHeader,
} from '../integrity/archive-file-state';
import { type ArchiveGap, DatasetCatalog, type DatasetColumn, type DatasetDescription, type SelectedFile } from './dataset-catalog';
import { openDuckDb } from './duckdb-limits';
import { CacheCapacityError, type CacheLease, LocalObjectCache, type WantedObject } from './local-object-cache';
import { BudgetExceeded, checkByteBudget, filesStartingBy, firstFilesFor, QueryConcurrency } from './query-budgets';
import { parseRowsQuery, QueryRejection, type RowsQuery, formatInstant } from './query-parameters';
import {
  type ColumnEncoding,
  csvEncoder,
  type EncodedColumn,
  jsonArrayEncoder,
  ndjsonEncoder,
  type RowEncoder,
} from './row-encoders';

/** `GET /v1/datasets` entry. */
export interface DatasetListing {
  name: string;
  sourceTopic: string;
  schemaVersion: number;
  partitioning: string;
  retentionDays: number | null;
  columns: DatasetColumn[];
  symbolColumn: string | null;
  files: number;
  rows: number;
  bytes: number;
  /** Event-time range of the committed files: ISO-8601 with nanoseconds and the exact epoch ns as text. */
  from: string | null;
  to: string | null;
  fromNs: string | null;
  toNs: string | null;
  /** Rows this instance received and has not yet committed (they are part of every query). */
  bufferedRows: number;
  /**
   * The catalog checked against the store: `degraded` while files are missing, corrupt or lost
   * (queries over them answer 409 unless `allowPartial=true`), with the last verification's time.
   */
  integrity: {
    state: 'ok' | 'degraded';
    missingFiles: number;
    corruptFiles: number;
    lostFiles: number;
    orphanedObjects: number;
    verifiedAt: string | null;
  };
  /** Offset ranges lost for good (neither in the store nor in Kafka any more), at most 1,000. */
  gaps: { sourceTopic: string; partition: number; fromOffset: string; toOffset: string; rows: number; reason: string }[];
  /** The archive's state of the source topic: `archiving`, or `awaiting-decision` with why; null where this instance does not archive it. */
  archive: ArchiveStateListing | null;
  /** The source topic's epochs, oldest first: each with its Kafka cluster and topic IDs and its archived offsets per partition. */
  epochs: EpochListing[];
}

/** `archive` of a dataset listing. */
export interface ArchiveStateListing {
  state: 'verifying' | 'archiving' | 'awaiting-decision';
  epoch: number | null;
  reason: string | null;
  message: string | null;
  stored: { kafkaClusterId: string | null; kafkaTopicId: string | null };
  current: { kafkaClusterId: string | null; kafkaTopicId: string | null } | null;
}

/** What one query read, for logs and tests. */
export interface RowsServed {
  /** Files read (with a limit, the files ordered first in event time that can hold the rows returned). */
  files: number;
  /** Bytes of the files fetched into the cache for this query (with a limit, perhaps more than read). */
  fetchedBytes: number;
  bufferedRows: number;
  rows: number;
  /** Files the answer left out (only with `allowPartial=true`). */
  unreadable: UnreadableFile[];
}

/** Response headers of a partial answer: how many files were left out and their offset ranges. */
export const UNREADABLE_FILES_HEADER = 'X-Tributary-Unreadable-Files';
export const UNREADABLE_RANGES_HEADER = 'X-Tributary-Unreadable-Ranges';

const TEXT_TIME_COLUMNS = new Set(['ts', 'kafka_offset']);

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function encodingOf(column: DatasetColumn): ColumnEncoding {
  if (TEXT_TIME_COLUMNS.has(column.name) || column.name === 'event_time') return 'text';
  switch (column.type) {
    case 'JSON':
      return 'json';
    case 'BIGINT':
    case 'INTEGER':
      return 'integer';
    case 'DOUBLE':
      return 'number';
    case 'BOOLEAN':
      return 'boolean';
    case 'VARCHAR':
      return 'text';
    default:
      return 'auto';
  }
}

/**
 * The query API over the archive: rows of a dataset for a time range, symbols and columns, read
 * by DuckDB from the committed Parquet files (fetched into the local cache) merged with the rows
 * this instance still holds in its archive buffers (the serving layer), in event-time order, as
 * a JSON array, NDJSON, CSV or Parquet, streamed.
 */
@Injectable()
export class HistoryQueryService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger(HistoryQueryService.name);
  private readonly pool: Pool;
  private readonly s3: S3Client;
  private readonly catalog: DatasetCatalog;
  private duck?: Promise<DuckDBInstance>;
  private cache?: Promise<LocalObjectCache>;
  private readonly cacheHits: Counter;
  private readonly cacheMisses: Counter;
  private readonly cacheFetchedBytes: Counter;
  private readonly cacheEvictedBytes: Counter;
  private readonly cacheBytes: Gauge;
  private readonly rowsServed: Counter<'format'>;
  private readonly queryDuration: Histogram<'format'>;
  private readonly refusals: Counter<'budget'>;
  private readonly concurrency: QueryConcurrency;
  /** Bytes of archive objects one query may read: `HISTORY_QUERY_MAX_BYTES`, never more than the cache holds. */
  private readonly maxQueryBytes: number;
  private readonly maxQueryBytesName: string;

  constructor(
    @Inject(ARCHIVE_CONFIG) private readonly config: HistoricalDataManagerConfig,
    private readonly archive: TopicArchiveService,
    metrics: TributaryMetrics,
  ) {
    this.pool = new Pool({
      connectionString: config.DATABASE_URL,
      application_name: 'historical-data-manager-query',
      max: 4,
      connectionTimeoutMillis: 5_000,
      ...sessionTimeouts(config),
    });
    this.pool.on('error', () => undefined); // an idle connection lost: the next query opens another
    this.s3 = createS3Client(config);
    this.concurrency = new QueryConcurrency({
      maxConcurrent: config.HISTORY_QUERY_MAX_CONCURRENT,
      maxConcurrentPerCaller: config.HISTORY_QUERY_MAX_CONCURRENT_PER_CALLER,
      names: { service: 'HISTORY_QUERY_MAX_CONCURRENT', perCaller: 'HISTORY_QUERY_MAX_CONCURRENT_PER_CALLER' },
    });
    const cacheBound = config.HISTORY_QUERY_MAX_BYTES > config.HISTORY_CACHE_MAX_BYTES;
    this.maxQueryBytes = cacheBound ? config.HISTORY_CACHE_MAX_BYTES : config.HISTORY_QUERY_MAX_BYTES;
    this.maxQueryBytesName = cacheBound ? 'HISTORY_CACHE_MAX_BYTES' : 'HISTORY_QUERY_MAX_BYTES';
    this.catalog = new DatasetCatalog(this.pool, config.ARCHIVE_CATALOG_SCHEMA, archive.archivedDatasets());
    const registry = metrics.registry;
    const counter = (name: string, help: string) =>
      (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, registers: [registry] });
    this.cacheHits = counter('tributary_history_cache_hits_total', 'Archive objects a query found in the local cache');
    this.cacheMisses = counter('tributary_history_cache_misses_total', 'Archive objects a query had to fetch from S3');
    this.cacheFetchedBytes = counter('tributary_history_cache_fetched_bytes_total', 'Bytes fetched from S3 into the local cache');
    this.cacheEvictedBytes = counter('tributary_history_cache_evicted_bytes_total', 'Bytes evicted from the local cache');
    this.cacheBytes =
      (registry.getSingleMetric('tributary_history_cache_bytes') as Gauge | undefined) ??
      new Gauge({ name: 'tributary_history_cache_bytes', help: 'Bytes held in the local object cache', registers: [registry] });
    this.rowsServed =
      (registry.getSingleMetric('tributary_history_rows_served_total') as Counter<'format'> | undefined) ??
      new Counter({
        name: 'tributary_history_rows_served_total',
        help: 'Rows returned by the query API, by format',
        labelNames: ['format'],
        registers: [registry],
      });
    this.queryDuration =
      (registry.getSingleMetric('tributary_history_query_duration_seconds') as Histogram<'format'> | undefined) ??
      new Histogram({
        name: 'tributary_history_query_duration_seconds',
        help: 'Time from a rows request to its last byte, by format',
        labelNames: ['format'],
        buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      });
    this.refusals =
      (registry.getSingleMetric('tributary_history_queries_refused_total') as Counter<'budget'> | undefined) ??
      new Counter({
        name: 'tributary_history_queries_refused_total',
        help: 'Rows requests refused with 429, by the budget they would have exceeded',
        labelNames: ['budget'],
        registers: [registry],
      });
  }

  onModuleInit(): void {
    // opened on first use too; starting here surfaces a bad cache folder at start-up in the logs
    void this.localCache().catch((error: unknown) => this.log.error(`object cache: ${(error as Error).message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end().catch(() => undefined);
    this.s3.destroy();
    const duck = await this.duck?.catch(() => undefined);
    duck?.closeSync();
  }

  /** The local object cache (for its figures in tests and benchmarks). */
  localCache(): Promise<LocalObjectCache> {
    this.cache ??= LocalObjectCache.open({
      dir: this.config.HISTORY_CACHE_DIR,
      maxBytes: this.config.HISTORY_CACHE_MAX_BYTES,
      fetchConcurrency: this.config.HISTORY_CACHE_FETCH_CONCURRENCY,
      fetch: (key, destination, object) => this.download(key, destination, object),
      boundName: 'HISTORY_CACHE_MAX_BYTES',
      observer: {
        hit: () => this.cacheHits.inc(),
        miss: () => this.cacheMisses.inc(),
        fetched: (_key, bytes) => this.cacheFetchedBytes.inc(bytes),
        evicted: (bytes) => this.cacheEvictedBytes.inc(bytes),
        size: (bytes) => this.cacheBytes.set(bytes),
      },
    });
    return this.cache;
  }

  async datasets(): Promise<DatasetListing[]> {
    const described = await this.unlessCatalogDown(() => this.catalog.list());
    const gaps = await this.unlessCatalogDown(() => this.catalog.gaps(described.filter((d) => d.lostFiles > 0).map((d) => d.name)));
    const epochs = await this.unlessCatalogDown(() => this.epochsOf(null));
    return described.map((d) => ({ ...this.listing(d, gaps.get(d.name) ?? []), ...this.archiveOf(d, epochs) }));
  }

  async dataset(name: string): Promise<DatasetListing> {
    const described = await this.describe(name, true);
    const gaps = described.lostFiles > 0 ? await this.unlessCatalogDown(() => this.catalog.gaps([name])) : new Map<string, ArchiveGap[]>();
    const epochs = await this.unlessCatalogDown(() => this.epochsOf([described.sourceTopic]));
    return { ...this.listing(described, gaps.get(name) ?? []), ...this.archiveOf(described, epochs) };
  }

  /** The epochs of one archived topic, oldest first (what `POST /v1/datasets/:dataset/epochs` answers with). */
  async epochsOfTopic(topic: string): Promise<EpochListing[]> {
    return (await this.epochsOf([topic])).get(topic) ?? [];
  }

  /** Epochs of the archived topics (empty before the catalog exists). */
  private async epochsOf(topics: string[] | null): Promise<Map<string, EpochListing[]>> {
    const query = (sql: string, parameters: unknown[]) => this.pool.query(sql, parameters).then((r) => r.rows as unknown[]);
    return listEpochs(query, this.config.ARCHIVE_CATALOG_SCHEMA, topics).catch((error: unknown) => {
      if (['3F000', '42P01', '42703'].includes((error as { code?: string }).code ?? '')) return new Map<string, EpochListing[]>();
      throw error;
    });
  }

  /** The archive's state of the dataset's topic here and its epochs. */
  private archiveOf(d: DatasetDescription, epochs: Map<string, EpochListing[]>): Pick<DatasetListing, 'archive' | 'epochs'> {
    const state = this.archive.datasetState(d.name);
    return {
      archive:
        state === undefined
          ? null
          : {
              state: state.state,
              epoch: state.epoch,
              reason: state.mismatch?.kind ?? null,
              message: state.mismatch?.reason ?? null,
              stored: { kafkaClusterId: state.stored?.clusterId ?? null, kafkaTopicId: state.stored?.topicId ?? null },
              current: state.current && { kafkaClusterId: state.current.clusterId, kafkaTopicId: state.current.topicId },
            },
      epochs: epochs.get(d.sourceTopic) ?? [],
    };
  }

  /**
   * Validates the request, selects the files, and streams the rows to `response`. Every refusal
   * (4xx) and unavailable store (503) is thrown before the first byte is written.
   *
   * Budgets, checked before anything is downloaded: at most `HISTORY_QUERY_MAX_CONCURRENT` queries
   * at once, `HISTORY_QUERY_MAX_CONCURRENT_PER_CALLER` of one `caller` (the authenticated
   * principal; null: none known), and at most `HISTORY_QUERY_MAX_BYTES` of archive files read by one
   * query (the catalog's sizes). With `limit`, files are read in event-time order and only those
   * that can hold the first `limit` rows are fetched, so the budget counts those alone.
   */
  async rows(name: string, rawQuery: Record<string, unknown>, response: ServerResponse, caller: string | null = null): Promise<RowsServed> {
    const started = performance.now();
    const dataset = await this.describe(name, false);
    const query = parseRowsQuery(
      rawQuery,
      dataset.columns.map((c) => c.name),
      {
        maxRangeMs: this.config.HISTORY_QUERY_MAX_RANGE_MS,
        maxRows: this.config.HISTORY_QUERY_MAX_ROWS,
        maxSymbols: 1000,
      },
      BigInt(Date.now()) * 1_000_000n,
    );
    if (query.symbols.length > 0 && dataset.symbolColumn === null) {
      throw new QueryRejection(400, 'symbols', `dataset ${dataset.name} has no symbol column to filter on`);
    }

    if (query.snapshot !== null) {
      const snapshot = query.snapshot;
      const holds = await this.unlessCatalogDown(() => this.catalog.snapshotHolds(snapshot, dataset.name));
      if (holds === 'unknown snapshot') throw new QueryRejection(404, 'snapshot', `unknown snapshot "${snapshot}"`);
      if (holds === 'not in snapshot') {
        throw new QueryRejection(404, 'snapshot', `snapshot "${snapshot}" does not hold dataset ${dataset.name}`);
      }
    }

    const leave = this.refusedAs(() => this.concurrency.enter(caller));
    const leases: CacheLease[] = [];
    try {
      // The buffers first, the catalog second: a record flushed in between is then in both (and
      // read once, from its file), never in neither. A snapshot is its recorded files alone.
      const buffered = query.snapshot === null ? this.bufferedRows(dataset, query) : [];
      const selected = await this.unlessCatalogDown(() =>
        this.catalog.files(dataset.name, query.fromNs, query.toNs, query.symbols, query.snapshot),
      );
      // files the catalog already knows unreadable (found by the verification job or an earlier read), and gaps
      const unreadable: UnreadableFile[] = selected
        .filter((f) => f.state !== 'ok')
        .map((f) => unreadableOf(f, f.state as 'missing' | 'corrupt', f.stateDetail));
      if (query.snapshot === null) {
        unreadable.push(
          ...(await this.unlessCatalogDown(() => this.catalog.lostFiles(dataset.name, query.fromNs, query.toNs, query.symbols))),
        );
      }
      const refuseUnreadable = () => {
        if (unreadable.length > 0 && !query.allowPartial) throw new ArchiveFilesUnreadableError(dataset.name, unreadable);
      };
      refuseUnreadable();
      const readable = selected.filter((f) => f.state === 'ok');
      // buffered records belong to the topic's current epoch: only its files can hold them already
      const bufferedEpoch = this.archive.datasetState(dataset.name)?.epoch ?? null;
      const extra = withoutCommitted(buffered, bufferedEpoch === null ? selected : selected.filter((f) => f.epoch === bufferedEpoch));
      const duck = await this.duckdb();
      const connection = await duck.connect();
      try {
        await connection.run(`SET TimeZone = 'UTC'`);
        await this.loadBuffered(connection, dataset, extra);
        const { files, paths, fetchedBytes } =
          query.limit === null
            ? await this.fetchAll(readable, leases, unreadable)
            : await this.fetchFirst(connection, dataset, query, readable, query.limit, leases, unreadable, refuseUnreadable);
        refuseUnreadable();
        const source = this.sourceSql(dataset, query, files, paths);
        if (query.limit === null) await this.refuseTooManyRows(connection, source, files, extra.length);
        const partial = query.allowPartial ? unreadable : null;
        const served =
          query.format === 'parquet'
            ? await this.streamParquet(connection, dataset, query, source, response, partial)
            : await this.streamText(connection, dataset, query, source, response, partial);
        this.rowsServed.labels(query.format).inc(served);
        this.queryDuration.labels(query.format).observe((performance.now() - started) / 1000);
        return { files: files.length, fetchedBytes, bufferedRows: extra.length, rows: served, unreadable };
      } finally {
        connection.closeSync();
      }
    } finally {
      for (const lease of leases) lease.release();
      leave();
    }
  }

  /** Queries running now (for tests). */
  get runningQueries(): number {
    return this.concurrency.active;
  }

  /** Every selected file, within the byte budget; those that cannot be read are added to `unreadable`. */
  private async fetchAll(files: SelectedFile[], leases: CacheLease[], unreadable: UnreadableFile[]): Promise<FetchedFiles> {
    this.refusedAs(() => checkByteBudget(files, this.maxQueryBytes, this.maxQueryBytesName));
    const fetched = await this.fetchFiles(files, unreadable);
    leases.push(fetched.lease);
    return { files: fetched.files, paths: fetched.lease.paths, fetchedBytes: files.reduce((sum, f) => sum + f.bytes, 0) };
  }

  /**
   * The files that can hold the first `limit` rows, fetched in event-time order: first enough files
   * for `limit` rows by the catalog's counts, more (twice as many each time) while those hold fewer
   * matching rows; once the `limit`-th row's time is known, the files starting by then, the only
   * ones that can hold a row ordered before it. Every step stays within the byte budget.
   */
  private async fetchFirst(
    connection: DuckDBConnection,
    dataset: DatasetDescription,
    query: RowsQuery,
    selected: SelectedFile[],
    limit: number,
    leases: CacheLease[],
    unreadable: UnreadableFile[],
    refuseUnreadable: () => void,
  ): Promise<FetchedFiles> {
    const paths = new Map<string, string>();
    let ordered = selected;
    const fetch = async (files: SelectedFile[]) => {
      this.refusedAs(() => checkByteBudget(files, this.maxQueryBytes, this.maxQueryBytesName));
      const missing = files.filter((f) => !paths.has(f.key));
      if (missing.length === 0) return;
      const fetched = await this.fetchFiles(missing, unreadable);
      leases.push(fetched.lease);
      fetched.files.forEach((f, i) => paths.set(f.key, fetched.lease.paths[i] as string));
      if (fetched.files.length < missing.length) {
        refuseUnreadable();
        const gone = new Set(missing.filter((f) => !paths.has(f.key)).map((f) => f.key));
        ordered = ordered.filter((f) => !gone.has(f.key)); // left out of a partial answer
      }
    };
    const present = (files: SelectedFile[]) => files.filter((f) => paths.has(f.key));
    const result = (all: SelectedFile[]): FetchedFiles => {
      const files = present(all);
      return {
        files,
        paths: files.map((f) => paths.get(f.key) as string),
        fetchedBytes: selected.filter((f) => paths.has(f.key)).reduce((sum, f) => sum + f.bytes, 0),
      };
    };
    let wanted = limit;
    let taken = firstFilesFor(ordered, wanted);
    for (;;) {
      await fetch(taken);
      taken = present(taken);
      const source = this.sourceSql(dataset, query, taken, taken.map((f) => paths.get(f.key) as string));
      const reader = await connection.runAndReadAll(
        `SELECT ts FROM (${source}) ORDER BY ts LIMIT 1 OFFSET ${limit - 1}`,
      );
      const last = reader.getRows()[0]?.[0];
      if (last !== undefined && last !== null) {
        const needed = filesStartingBy(ordered, BigInt(last as bigint));
        await fetch(needed);
        return result(needed);
      }
      if (taken.length >= ordered.length) return result(taken);
      wanted *= 2;
      const next = firstFilesFor(ordered, wanted);
      taken = next.length > taken.length ? next : ordered.slice(0, Math.min(ordered.length, taken.length * 2));
    }
  }

  /** Runs `work`; a budget it exceeds is counted before it goes on as the refusal. */
  private refusedAs<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (error instanceof BudgetExceeded) this.refusals.labels(error.budget).inc();
      throw error;
    }
  }

  private async describe(name: string, withFigures = true): Promise<DatasetDescription> {
    const dataset = await this.unlessCatalogDown(() => this.catalog.get(name, withFigures));
    if (dataset === null) throw new QueryRejection(404, null, `unknown dataset "${name}"`);
    return dataset;
  }

  private listing(d: DatasetDescription, gaps: ArchiveGap[]): Omit<DatasetListing, 'archive' | 'epochs'> {
    const bufferedRows = this.archive
      .bufferedRecords(d.name)
      .reduce((sum, part) => sum + part.records.length, 0);
    return {
      name: d.name,
      sourceTopic: d.sourceTopic,
      schemaVersion: d.schemaVersion,
      partitioning: d.partitioning,
      retentionDays: d.retentionDays,
      columns: d.columns,
      symbolColumn: d.symbolColumn,
      files: d.files,
      rows: d.rows,
      bytes: d.bytes,
      from: d.minEventTimeNs === null ? null : formatInstant(d.minEventTimeNs),
      to: d.maxEventTimeNs === null ? null : formatInstant(d.maxEventTimeNs),
      fromNs: d.minEventTimeNs?.toString() ?? null,
      toNs: d.maxEventTimeNs?.toString() ?? null,
      bufferedRows,
      integrity: {
        state: d.missingFiles + d.corruptFiles + d.lostFiles > 0 ? 'degraded' : 'ok',
        missingFiles: d.missingFiles,
        corruptFiles: d.corruptFiles,
        lostFiles: d.lostFiles,
        orphanedObjects: d.orphanedObjects,
        verifiedAt: d.verifiedAt,
      },
      gaps: gaps.map((g) => ({
        sourceTopic: g.sourceTopic,
        partition: g.partition,
        fromOffset: g.fromOffset,
        toOffset: g.toOffset,
        rows: g.rows,
        reason: g.reason,
      })),
    };
  }

  /** Buffered records of the dataset that match the range and symbols, with their topic partition. */
  private bufferedRows(dataset: DatasetDescription, query: RowsQuery): BufferedRow[] {
    if (!dataset.archivedHere) return [];
    const symbols = query.symbols.length > 0 ? new Set(query.symbols) : null;
    const rows: BufferedRow[] = [];
    for (const { topicPartition, records } of this.archive.bufferedRecords(dataset.name)) {
      for (const record of records) {
        if (record.eventTimeNs < query.fromNs || record.eventTimeNs >= query.toNs) continue;
        if (symbols && !symbols.has(String(record.value[dataset.symbolColumn as string]))) continue;
        rows.push({ topicPartition, record });
      }
    }
    return rows;
  }

  /**
   * The local files of `files`. An object the store does not have (NoSuchKey) or that differs from
   * what the catalog committed (size, SHA-256) is recorded in the catalog as `missing`/`corrupt`,
   * added to `unreadable` and left out: the lease holds the others, in order, named by `files`.
   * Only a store that cannot be reached is "S3 unavailable".
   */
  private async fetchFiles(files: SelectedFile[], unreadable: UnreadableFile[]): Promise<{ lease: CacheLease; files: SelectedFile[] }> {
    const cache = await this.localCache();
    let wanted = files;
    for (;;) {
      try {
        const lease = await cache.acquire(wanted.map((f) => ({ key: f.key, bytes: f.bytes, sha256: f.sha256 })));
        return { lease, files: wanted };
      } catch (error) {
        if (error instanceof CacheCapacityError) {
          this.refusals.labels(error.boundName).inc();
          throw new BudgetExceeded(error.boundName, error.maxBytes, error.message, error.busy ? 1 : null);
        }
        const file = error instanceof ObjectUnreadableError ? wanted.find((f) => f.key === error.key) : undefined;
        if (!(error instanceof ObjectUnreadableError) || file === undefined) throw new DependencyUnavailableError('s3', error);
        this.log.warn({ msg: 'archive object unreadable', key: error.key, state: error.state, detail: error.detail });
        await this.catalog
          .markUnreadable(error.key, error.state, error.detail)
          .catch((failure: unknown) => this.log.warn({ msg: 'could not record the unreadable object', key: error.key, err: failure }));
        unreadable.push(unreadableOf(file, error.state, error.detail));
        wanted = wanted.filter((f) => f !== file);
      }
    }
  }

  /** Fetches an object into `destination`, checked against the catalog's SHA-256 when it has one. */
  private async download(key: string, destination: string, wanted: WantedObject): Promise<void> {
    let object;
    try {
      object = await this.s3.send(new GetObjectCommand({ Bucket: this.config.S3_BUCKET, Key: key }));
    } catch (error) {
      if (isNoSuchKey(error)) throw new ObjectUnreadableError(key, 'missing', 'the store has no object under this key (NoSuchKey)');
      throw error;
    }
    const hash = createHash('sha256');
    const body = object.Body as Readable;
    body.on('data', (chunk: Buffer) => hash.update(chunk));
    await pipeline(body, createWriteStream(destination));
    const sha256 = hash.digest('base64');
    if (wanted.sha256 && sha256 !== wanted.sha256) {
      throw new ObjectUnreadableError(key, 'corrupt', `the object's SHA-256 is ${sha256}; the catalog committed ${wanted.sha256}`);
    }
  }

  /** The query API's DuckDB instance, held to its memory, spill and thread limits. */
  duckdb(): Promise<DuckDBInstance> {
    this.duck ??= openDuckDb({
      threads: this.config.HISTORY_QUERY_THREADS,
      memoryLimitBytes: this.config.DUCKDB_MEMORY_LIMIT,
      maxTempBytes: this.config.DUCKDB_MAX_TEMP_BYTES,
      tempDirectory: join(this.config.HISTORY_CACHE_DIR, 'duckdb-spill'),
    });
    return this.duck;
  }

  /** The rows still buffered, as a temporary table with the dataset's columns. */
  private async loadBuffered(connection: DuckDBConnection, dataset: DatasetDescription, rows: BufferedRow[]): Promise<void> {
    const typed = dataset.columns.filter((c) => c.type !== 'unknown' && c.name !== 'event_time');
    await connection.run(
      `CREATE TEMP TABLE buffered (${typed.map((c) => `${quote(c.name)} ${sqlType(c)}`).join(', ')})`,
    );
    if (rows.length === 0) return;
    const appender = await connection.createAppender('buffered');
    for (const { topicPartition, record } of rows) {
      for (const column of typed) {
        const v =
          column.name === 'kafka_partition'
            ? topicPartition
            : column.name === 'kafka_offset'
              ? record.offset
              : column.name === 'record_key'
                ? record.key
                : column.name === 'ts'
                  ? record.eventTimeNs
                  : record.value[column.name];
        if (v === undefined || v === null) appender.appendNull();
        else if (column.type === 'INTEGER') appender.appendInteger(Number(v));
        else if (column.type === 'BIGINT') appender.appendBigInt(BigInt(v as number | string | bigint));
        else if (column.type === 'DOUBLE') appender.appendDouble(Number(v));
        else if (column.type === 'BOOLEAN') appender.appendBoolean(Boolean(v));
        else if (column.type === 'JSON') appender.appendVarchar(JSON.stringify(v));
        else appender.appendVarchar(String(v));
      }
      appender.endRow();
    }
    appender.closeSync();
  }

  /**
   * The union of the selected files and the buffered rows, filtered (the WHERE on `ts` and the
   * symbol is pushed into the Parquet scan, which skips row groups by their statistics), with
   * every dataset column (null where a file predates it).
   */
  private sourceSql(dataset: DatasetDescription, query: RowsQuery, files: SelectedFile[], paths: readonly string[]): string {
    const where = [`ts >= ${query.fromNs}`, `ts < ${query.toNs}`];
    if (query.symbols.length > 0) {
      where.push(`${quote(dataset.symbolColumn as string)} IN (${query.symbols.map(literal).join(', ')})`);
    }
    const fileColumns = new Set(files.flatMap((f) => f.columns));
    const bufferedColumns = new Set(
      dataset.columns.filter((c) => c.type !== 'unknown' && c.name !== 'event_time').map((c) => c.name),
    );
    const select = (present: Set<string>) =>
      dataset.columns
        .map((c) =>
          c.name === 'event_time'
            ? `make_timestamp(ts // 1000)::TIMESTAMPTZ AS event_time`
            : present.has(c.name)
              ? quote(c.name)
              : `NULL AS ${quote(c.name)}`,
        )
        .join(', ');
    const parts = [`SELECT ${select(bufferedColumns)} FROM buffered WHERE ${where.join(' AND ')}`];
    if (files.length > 0) {
      const list = paths.map(literal).join(', ');
      parts.unshift(
        `SELECT ${select(fileColumns)} FROM read_parquet([${list}], union_by_name = true) WHERE ${where.join(' AND ')}`,
      );
    }
    return parts.join(' UNION ALL BY NAME ');
  }

  /** 413 when the request, without a limit, would return more rows than one response may carry. */
  private async refuseTooManyRows(
    connection: DuckDBConnection,
    source: string,
    files: SelectedFile[],
    buffered: number,
  ): Promise<void> {
    const max = this.config.HISTORY_QUERY_MAX_ROWS;
    const upperBound = files.reduce((sum, f) => sum + f.rows, 0) + buffered;
    if (upperBound <= max) return;
    const reader = await connection.runAndReadAll(`SELECT count(*)::BIGINT FROM (${source})`);
    const count = Number(reader.getRows()[0]?.[0] ?? 0);
    if (count > max) {
      throw new QueryRejection(
        413,
        'limit',
        `${count} rows match; one response carries at most ${max}: narrow the range or symbols, or page with limit and from`,
      );
    }
  }

  private orderedSql(query: RowsQuery, source: string, projection: string): string {
    const limit = query.limit === null ? '' : ` LIMIT ${query.limit}`;
    return `SELECT ${projection} FROM (${source}) ORDER BY ts, kafka_partition, kafka_offset${limit}`;
  }

  private async streamText(
    connection: DuckDBConnection,
    dataset: DatasetDescription,
    query: RowsQuery,
    source: string,
    response: ServerResponse,
    partial: UnreadableFile[] | null,
  ): Promise<number> {
    const columns = query.columns.map((name) => dataset.columns.find((c) => c.name === name) as DatasetColumn);
    const projection = columns
      .map((c) =>
        c.name === 'event_time'
          ? `strftime(make_timestamp(ts // 1000), '%Y-%m-%dT%H:%M:%S.%fZ') AS event_time`
          : TEXT_TIME_COLUMNS.has(c.name)
            ? `CAST(${quote(c.name)} AS VARCHAR) AS ${quote(c.name)}`
            : quote(c.name),
      )
      .join(', ');
    const encoded: EncodedColumn[] = columns.map((c) => ({ name: c.name, encoding: encodingOf(c) }));
    const rowEncoder: RowEncoder =
      query.format === 'csv' ? csvEncoder(encoded) : query.format === 'ndjson' ? ndjsonEncoder(encoded) : jsonArrayEncoder(encoded);
    // a partial JSON answer is `{ rows, unreadable }`; the other formats carry the list in headers only
    const encoder: RowEncoder =
      partial !== null && query.format === 'json'
        ? {
            ...rowEncoder,
            head: () => `{"rows":${rowEncoder.head()}`,
            tail: () => `${rowEncoder.tail().trimEnd()},"unreadable":${JSON.stringify(partial)}}\n`,
          }
        : rowEncoder;

    const result = await connection.stream(this.orderedSql(query, source, projection));
    let chunk = await result.fetchChunk();
    // headers only now: anything that failed before could still be answered with an error status
    response.statusCode = 200;
    response.setHeader('content-type', encoder.contentType);
    response.setHeader('cache-control', 'no-store');
    setPartialHeaders(response, partial);
    let closed = false;
    response.once('close', () => {
      if (!response.writableFinished) {
        closed = true;
        connection.interrupt();
      }
    });
    let rows = 0;
    let out = encoder.head();
    while (chunk !== null && chunk.rowCount > 0 && !closed) {
      for (const row of chunk.getRows()) out += encoder.row(row);
      rows += chunk.rowCount;
      if (!response.write(out)) await drained(response);
      out = '';
      chunk = closed ? null : await result.fetchChunk();
    }
    if (!closed) response.end(out + encoder.tail());
    return rows;
  }

  private async streamParquet(
    connection: DuckDBConnection,
    dataset: DatasetDescription,
    query: RowsQuery,
    source: string,
    response: ServerResponse,
    partial: UnreadableFile[] | null,
  ): Promise<number> {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-query-'));
    try {
      const path = join(dir, `${dataset.name}.parquet`);
      const projection = query.columns.map(quote).join(', ');
      const copied = await connection.runAndReadAll(
        `COPY (${this.orderedSql(query, source, projection)}) TO ${literal(path)}
           (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
      );
      const rows = Number(copied.rowsChanged);
      response.statusCode = 200;
      response.setHeader('content-type', 'application/vnd.apache.parquet');
      response.setHeader('content-length', String((await stat(path)).size));
      response.setHeader('content-disposition', `attachment; filename="${dataset.name}.parquet"`);
      response.setHeader('cache-control', 'no-store');
      setPartialHeaders(response, partial);
      await pipeline(createReadStream(path), response);
      return rows;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async unlessCatalogDown<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isPostgresUnavailable(error)) throw new DependencyUnavailableError('postgres', error);
      throw error;
    }
  }
}

/** The file a query could not read, as its answer names it. */
function unreadableOf(file: SelectedFile, state: UnreadableFile['state'], detail: string | null): UnreadableFile {
  return {
    key: file.key,
    state,
    sourceTopic: file.sourceTopic,
    partition: file.sourcePartition,
    fromOffset: file.firstOffset.toString(),
    toOffset: file.lastOffset.toString(),
    detail,
  };
}

/** With `allowPartial=true`: how many files the answer left out, and their offset ranges. */
function setPartialHeaders(response: ServerResponse, partial: UnreadableFile[] | null): void {
  if (partial === null) return;
  response.setHeader(UNREADABLE_FILES_HEADER, String(partial.length));
  if (partial.length > 0) response.setHeader(UNREADABLE_RANGES_HEADER, unreadableRangesHeader(partial));
}

/** Resolves when `response` can take more, or is closed; leaves no listener behind. */
function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

/** Files a query reads, their local paths (same order) and the bytes fetched for it. */
interface FetchedFiles {
  files: SelectedFile[];
  paths: string[];
  fetchedBytes: number;
}

interface BufferedRow {
  topicPartition: number;
  record: ArchiveRecord;
}

function sqlType(column: DatasetColumn): string {
  return column.type === 'JSON' ? 'VARCHAR' : column.type;
}

/** Buffered rows whose offsets no selected file holds (a flush may have committed some meanwhile). */
function withoutCommitted(rows: BufferedRow[], files: SelectedFile[]): BufferedRow[] {
  if (files.length === 0 || rows.length === 0) return rows;
  const byPartition = new Map<number, SelectedFile[]>();
  for (const f of files) {
    const list = byPartition.get(f.sourcePartition);
    if (list) list.push(f);
    else byPartition.set(f.sourcePartition, [f]);
  }
  return rows.filter(({ topicPartition, record }) => {
    const ranges = byPartition.get(topicPartition);
    return !ranges?.some((f) => record.offset >= f.firstOffset && record.offset <= f.lastOffset);
  });
}
