import { hostname } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DuckDBInstance } from '@duckdb/node-api';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { createS3Client, TributaryMetrics } from '@tributary/observability';
import { sessionTimeouts } from '@tributary/postgres';
import { Pool } from 'pg';
import { Counter } from 'prom-client';
import type { HistoricalDataManagerConfig } from '../../config';
import { DependencyUnavailableError, isPostgresUnavailable } from '../archive/archive-dependencies';
import { migrateCatalog } from '../archive/catalog-database';
import { ARCHIVE_CONFIG } from '../archive/topic-archive.service';
import { openDuckDb } from '../query/duckdb-limits';
import { QueryRejection } from '../query/query-parameters';
import { planCompactions } from './compaction-plan';
import {
  type CompactionRecord,
  type CompactionTrigger,
  LifecycleCatalog,
  type SnapshotDescription,
} from './lifecycle-catalog';
import type { CompactRequest, SnapshotRequest } from './lifecycle-requests';
import { type CompactionOutcome, PartitionCompactor } from './partition-compactor';
import { parseRetentionPolicy, type RetentionPolicy, retentionCutoffNs, retentionDaysOf } from './retention-policy';

/** What one compaction pass did. */
export interface CompactionSummary {
  dataset: string | null;
  date: string | null;
  hour: number | null;
  /** Hour partitions that had files to merge. */
  partitions: number;
  committed: number;
  conflicts: number;
  failed: number;
  /** Files merged away and files written, over the committed compactions. */
  inputFiles: number;
  outputFiles: number;
  rows: number;
  compactions: CompactionOutcome[];
}

/** What retention did to one dataset. */
export interface RetentionOutcome {
  dataset: string;
  retentionDays: number;
  /** Files whose newest event is before this instant were removed (ISO-8601). */
  cutoff: string;
  files: number;
  rows: number;
  bytes: number;
}

/** Partitions one compaction pass looks at, at most (the next pass takes the rest). */
const PARTITIONS_PER_PASS = 500;
/** A compaction still `running` this long after it started belongs to an instance that died. */
const STALE_COMPACTION_MS = 3_600_000;

/**
 * The archive's lifecycle: compaction (on a schedule and on demand), retention (on a schedule),
 * the deletion of retired objects once their grace period is over and no snapshot pins them, and
 * snapshots. Everything here works on the catalog and the bucket only, so any instance may run it;
 * the catalog transactions keep instances that run it together correct.
 */
@Injectable()
export class ArchiveLifecycleService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger(ArchiveLifecycleService.name);
  private readonly pool: Pool;
  private readonly s3: S3Client;
  private readonly catalog: LifecycleCatalog;
  private readonly compactor: PartitionCompactor;
  private readonly policy: RetentionPolicy;
  private duck?: Promise<DuckDBInstance>;
  private migrated?: Promise<void>;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<unknown>>();
  private compactionQueue: Promise<unknown> = Promise.resolve();
  /** Compactions asked through the API, queued or running, by dataset: at most one each. */
  private readonly requested = new Map<string, { request: CompactRequest; since: Date }>();
  private stopped = false;
  private readonly compactionsTotal: Counter<'status'>;
  private readonly retiredTotal: Counter<'reason'>;
  private readonly deletedTotal: Counter;

  constructor(
    @Inject(ARCHIVE_CONFIG) private readonly config: HistoricalDataManagerConfig,
    metrics: TributaryMetrics,
  ) {
    this.pool = new Pool({
      connectionString: config.DATABASE_URL,
      application_name: 'historical-data-manager-lifecycle',
      max: 3,
      connectionTimeoutMillis: 5_000,
      ...sessionTimeouts(config),
    });
    this.pool.on('error', () => undefined); // an idle connection lost: the next query opens another
    this.s3 = createS3Client(config);
    this.catalog = new LifecycleCatalog(this.pool, config.ARCHIVE_CATALOG_SCHEMA);
    this.policy = parseRetentionPolicy(config.ARCHIVE_RETENTION);
    this.compactor = new PartitionCompactor(
      this.catalog,
      this.s3,
      config.S3_BUCKET,
      async () => (await this.duckdb()).connect(),
      config.INSTANCE_ID ?? hostname(),
    );
    const registry = metrics.registry;
    this.compactionsTotal =
      (registry.getSingleMetric('tributary_archive_compactions_total') as Counter<'status'> | undefined) ??
      new Counter({
        name: 'tributary_archive_compactions_total',
        help: 'Compactions of small archive files, by outcome (committed, conflict, failed)',
        labelNames: ['status'],
        registers: [registry],
      });
    this.retiredTotal =
      (registry.getSingleMetric('tributary_archive_retired_files_total') as Counter<'reason'> | undefined) ??
      new Counter({
        name: 'tributary_archive_retired_files_total',
        help: 'Files taken out of the archive catalog, by reason (compaction, retention)',
        labelNames: ['reason'],
        registers: [registry],
      });
    this.deletedTotal =
      (registry.getSingleMetric('tributary_archive_deleted_objects_total') as Counter | undefined) ??
      new Counter({
        name: 'tributary_archive_deleted_objects_total',
        help: 'Retired archive objects deleted from S3 after their grace period',
        registers: [registry],
      });
  }

  onModuleInit(): void {
    const every = (ms: number, work: () => Promise<unknown>, what: string) => {
      if (ms <= 0) return;
      let busy = false;
      const timer = setInterval(() => {
        if (busy || this.stopped) return;
        busy = true;
        const task = work()
          .catch((error: unknown) => {
            const unavailable = isPostgresUnavailable(error);
            this.log[unavailable ? 'warn' : 'error']({ msg: `${what} failed; the next run tries again`, err: error });
          })
          .finally(() => {
            busy = false;
            this.running.delete(task);
          });
        this.running.add(task);
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(
      this.config.ARCHIVE_COMPACTION_INTERVAL_MS,
      () =>
        this.compact(null, { date: null, hour: null }, 'schedule', new Date(Date.now() - this.config.ARCHIVE_COMPACTION_DELAY_MS)),
      'scheduled compaction',
    );
    if (this.policy.defaultDays !== null || [...this.policy.datasets.values()].some((d) => d !== null)) {
      every(this.config.ARCHIVE_RETENTION_INTERVAL_MS, () => this.applyRetention(), 'retention');
    }
    every(Math.min(60_000, Math.max(1_000, this.config.ARCHIVE_OBSOLETE_GRACE_MS)), () => this.sweep(), 'deletion of retired objects');
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.allSettled([...this.running, this.compactionQueue]);
    await this.pool.end().catch(() => undefined);
    this.s3.destroy();
    const duck = await this.duck?.catch(() => undefined);
    duck?.closeSync();
  }

  /**
   * Merges the small files of `dataset` (every dataset when null): of one hour partition when the
   * request names a date and hour, of one day with a date, else of every partition (ended before
   * `settledBefore` when given). Passes run one at a time in this instance.
   */
  compact(
    dataset: string | null,
    request: CompactRequest,
    trigger: CompactionTrigger,
    settledBefore: Date | null = null,
  ): Promise<CompactionSummary> {
    if (trigger === 'api' && dataset !== null) return this.compactOnRequest(dataset, request);
    const pass = this.compactionQueue.then(() => this.compactPass(dataset, request, trigger, settledBefore));
    this.compactionQueue = pass.catch(() => undefined);
    return pass;
  }

  /** At most one compaction asked through the API per dataset, queued or running: a second is refused with 409 naming it. */
  private compactOnRequest(dataset: string, request: CompactRequest): Promise<CompactionSummary> {
    const pending = this.requested.get(dataset);
    if (pending !== undefined) {
      const scope = pending.request.date === null ? 'every hour partition' : pending.request.hour === null ? pending.request.date : `${pending.request.date} hour ${pending.request.hour}`;
      return Promise.reject(
        new QueryRejection(
          409,
          null,
          `a compaction of ${dataset} (${scope}) asked at ${pending.since.toISOString()} is queued or running; one per dataset at a time: ask again once it has answered`,
        ),
      );
    }
    this.requested.set(dataset, { request, since: new Date() });
    const pass = this.compactionQueue.then(() => this.compactPass(dataset, request, 'api', null));
    this.compactionQueue = pass.catch(() => undefined);
    return pass.finally(() => this.requested.delete(dataset));
  }

  private async compactPass(
    dataset: string | null,
    request: CompactRequest,
    trigger: CompactionTrigger,
    settledBefore: Date | null,
  ): Promise<CompactionSummary> {
    await this.ready();
    if (dataset !== null) await this.requireDataset(dataset);
    const summary: CompactionSummary = {
      dataset,
      date: request.date,
      hour: request.hour,
      partitions: 0,
      committed: 0,
      conflicts: 0,
      failed: 0,
      inputFiles: 0,
      outputFiles: 0,
      rows: 0,
      compactions: [],
    };
    const limits = { targetBytes: this.config.ARCHIVE_COMPACTION_TARGET_BYTES, minFiles: this.config.ARCHIVE_COMPACTION_MIN_FILES };
    const partitions = await this.catalogCall(() =>
      this.catalog.partitionsToCompact({ dataset, ...request, settledBefore }, limits.targetBytes, limits.minFiles, PARTITIONS_PER_PASS),
    );
    for (const partition of partitions) {
      if (this.stopped) break;
      const candidates = await this.catalogCall(() => this.catalog.candidates(partition, limits.targetBytes));
      const plans = planCompactions(partition.dataset, candidates, limits);
      if (plans.length > 0) summary.partitions++;
      for (const plan of plans) {
        if (this.stopped) break;
        const outcome = await this.compactor.compact(plan, trigger, this.config.ARCHIVE_OBSOLETE_GRACE_MS);
        this.compactionsTotal.labels(outcome.status).inc();
        summary.compactions.push(outcome);
        if (outcome.status === 'committed') {
          summary.committed++;
          summary.inputFiles += outcome.inputs;
          summary.outputFiles++;
          summary.rows += outcome.rows;
          this.retiredTotal.labels('compaction').inc(outcome.inputs);
        } else if (outcome.status === 'conflict') {
          summary.conflicts++;
        } else {
          summary.failed++;
          this.log.error({ msg: 'compaction failed; its files stay as they were', compaction: outcome.id, dataset: plan.dataset, error: outcome.error });
        }
      }
    }
    if (summary.committed + summary.failed > 0) {
      this.log.log({
        msg: 'compaction pass',
        trigger,
        dataset,
        partitions: summary.partitions,
        committed: summary.committed,
        failed: summary.failed,
        inputFiles: summary.inputFiles,
        rows: summary.rows,
      });
    }
    return summary;
  }

  /** The compaction history of a dataset, newest first. */
  async compactions(dataset: string, limit: number): Promise<CompactionRecord[]> {
    await this.ready();
    await this.requireDataset(dataset);
    return this.catalogCall(() => this.catalog.compactions(dataset, limit));
  }

  /**
   * Applies `ARCHIVE_RETENTION` at `nowNs`: per dataset with a retention, the files whose newest
   * event is older than it leave the catalog (their objects follow after the grace period, or
   * once no snapshot pins them), and the dataset's `retention_days` is set to it.
   */
  async applyRetention(nowNs: bigint = BigInt(Date.now()) * 1_000_000n): Promise<RetentionOutcome[]> {
    await this.ready();
    const outcomes: RetentionOutcome[] = [];
    for (const dataset of await this.catalogCall(() => this.catalog.datasetNames())) {
      const days = retentionDaysOf(this.policy, dataset);
      await this.catalogCall(() => this.catalog.setRetentionDays(dataset, days));
      if (days === null) continue;
      const cutoffNs = retentionCutoffNs(days, nowNs);
      const figures = await this.catalogCall(() => this.catalog.retire(dataset, cutoffNs, this.config.ARCHIVE_OBSOLETE_GRACE_MS));
      outcomes.push({ dataset, retentionDays: days, cutoff: new Date(Number(cutoffNs / 1_000_000n)).toISOString(), ...figures });
      if (figures.files > 0) {
        this.retiredTotal.labels('retention').inc(figures.files);
        this.log.log({ msg: 'retention removed files', dataset, retentionDays: days, ...figures });
      }
    }
    return outcomes;
  }

  /** Deletes the retired objects that are due and unpinned; returns their keys. */
  async sweep(): Promise<string[]> {
    await this.ready();
    for (const key of await this.catalogCall(() => this.catalog.abandonStaleCompactions(STALE_COMPACTION_MS))) {
      await this.s3.send(new DeleteObjectCommand({ Bucket: this.config.S3_BUCKET, Key: key })).catch(() => undefined);
    }
    const deleted: string[] = [];
    for (;;) {
      const due = await this.catalogCall(() => this.catalog.deletableObjects(200));
      if (due.length === 0 || this.stopped) break;
      const done: string[] = [];
      for (const object of due) {
        try {
          await this.s3.send(new DeleteObjectCommand({ Bucket: this.config.S3_BUCKET, Key: object.key }));
          done.push(object.key);
        } catch (error) {
          this.log.warn({ msg: 'retired object not deleted yet; the next run tries again', key: object.key, err: error });
        }
      }
      await this.catalogCall(() => this.catalog.forgetRetired(done));
      deleted.push(...done);
      this.deletedTotal.inc(done.length);
      if (done.length < due.length) break;
    }
    return deleted;
  }

  async createSnapshot(request: SnapshotRequest): Promise<SnapshotDescription> {
    await this.ready();
    const created = await this.catalogCall(() =>
      this.catalog.createSnapshot(request.name, request.datasets, this.config.ARCHIVE_MAX_SNAPSHOTS),
    );
    if (typeof created === 'object' && 'kept' in created) {
      throw new QueryRejection(
        409,
        'name',
        `${created.kept} snapshots are kept; at most ${this.config.ARCHIVE_MAX_SNAPSHOTS} (ARCHIVE_MAX_SNAPSHOTS): release one first (DELETE /v1/snapshots/:name)`,
      );
    }
    if (created === 'exists') {
      throw new QueryRejection(409, 'name', `a snapshot named "${request.name}" exists already (release it first, or pick another name)`);
    }
    if ('unknown' in created) {
      throw new QueryRejection(404, 'datasets', `unknown dataset${created.unknown.length > 1 ? 's' : ''} ${created.unknown.map((d) => `"${d}"`).join(', ')}`);
    }
    this.log.log({ msg: 'snapshot taken', snapshot: created.name, datasets: created.datasets.map((d) => d.name) });
    return created;
  }

  async snapshots(): Promise<SnapshotDescription[]> {
    await this.ready();
    return this.catalogCall(() => this.catalog.snapshots());
  }

  async snapshot(name: string): Promise<SnapshotDescription> {
    await this.ready();
    const found = await this.catalogCall(() => this.catalog.snapshot(name));
    if (found === null) throw new QueryRejection(404, null, `unknown snapshot "${name}"`);
    return found;
  }

  async releaseSnapshot(name: string): Promise<void> {
    await this.ready();
    const released = await this.catalogCall(() => this.catalog.releaseSnapshot(name, this.config.ARCHIVE_OBSOLETE_GRACE_MS));
    if (!released) throw new QueryRejection(404, null, `unknown snapshot "${name}"`);
    this.log.log({ msg: 'snapshot released', snapshot: name });
  }

  /** Retired objects of a dataset still in the bucket, with the snapshots pinning them. */
  async retiredObjects(dataset: string): Promise<Awaited<ReturnType<LifecycleCatalog['retiredObjects']>>> {
    await this.ready();
    return this.catalogCall(() => this.catalog.retiredObjects(dataset));
  }

  /** The catalog migrated (once; retried on the next call after a failure). */
  private ready(): Promise<void> {
    this.migrated ??= this.catalogCall(async () => {
      await migrateCatalog(this.config.DATABASE_URL, this.config.ARCHIVE_CATALOG_SCHEMA);
    }).catch((error: unknown) => {
      this.migrated = undefined;
      throw error;
    });
    return this.migrated;
  }

  private async requireDataset(dataset: string): Promise<void> {
    if (!(await this.catalogCall(() => this.catalog.datasetExists(dataset)))) {
      throw new QueryRejection(404, null, `unknown dataset "${dataset}"`);
    }
  }

  /** Compaction's DuckDB instance, held to its memory, spill and thread limits. */
  private duckdb(): Promise<DuckDBInstance> {
    this.duck ??= openDuckDb({
      threads: 2,
      memoryLimitBytes: this.config.DUCKDB_MEMORY_LIMIT,
      maxTempBytes: this.config.DUCKDB_MAX_TEMP_BYTES,
      tempDirectory: join(this.config.HISTORY_CACHE_DIR, 'duckdb-spill-compaction'),
    });
    return this.duck;
  }

  private async catalogCall<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isPostgresUnavailable(error)) throw new DependencyUnavailableError('postgres', error);
      throw error;
    }
  }
}
