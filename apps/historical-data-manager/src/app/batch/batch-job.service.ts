import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectsCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import { createS3Client, TributaryMetrics } from '@tributary/observability';
import { sessionTimeouts } from '@tributary/postgres';
import { Pool } from 'pg';
import { Counter, Gauge } from 'prom-client';
import { openDuckDb } from '../query/duckdb-limits';
import { type CacheLease, LocalObjectCache } from '../query/local-object-cache';
import { formatInstant } from '../query/query-parameters';
import { BatchCatalog, type GoldSwap, migrateBatchCatalog } from './batch-catalog';
import type { BatchConfig } from './batch-env';
import type { BatchJobContext, BatchJobRunners, InputRange } from './batch-job';
import {
  type BatchJobRequest,
  BatchRequestRejection,
  checkedRequest,
  outputDatasetsOf,
  parseJobParams,
} from './batch-request';
import { defineExactDecimalMacros } from './batch-sql';
import { dueRuns, nextDueAt } from './batch-schedule';
import { type ReplacedFile, writeGoldFiles, type WrittenGoldFile } from './gold-dataset-writer';
import { runCandlesJob } from './jobs/candles-job';
import { runFeaturesJob } from './jobs/features-job';
import { runFlowJob } from './jobs/flow-job';
import { runReconcileJob } from './jobs/reconcile-job';
import { runSentimentJob } from './jobs/sentiment-job';

export const BATCH_CONFIG = Symbol('BATCH_CONFIG');

/** The SQL of each job. */
export const BATCH_JOB_RUNNERS: BatchJobRunners = {
  candles: runCandlesJob,
  reconcile: runReconcileJob,
  features: runFeaturesJob,
  flow: runFlowJob,
  sentiment: runSentimentJob,
};

export type BatchRunStatus = 'queued' | 'running' | 'succeeded' | 'failed';
export type BatchTrigger = 'api' | 'schedule';

interface BatchRun {
  id: string;
  request: BatchJobRequest;
  trigger: BatchTrigger;
  status: BatchRunStatus;
  percent: number;
  stage: string;
  inputRows: number;
  outputRows: number;
  error: string | null;
  result: Record<string, unknown> | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** A run as the API shows it. */
export interface BatchRunView {
  id: string;
  job: string;
  from: string;
  to: string;
  fromNs: string;
  toNs: string;
  symbols: string[];
  params: Record<string, unknown>;
  /** Gold datasets the run writes. */
  outputDatasets: string[];
  trigger: BatchTrigger;
  status: BatchRunStatus;
  percent: number;
  stage: string;
  rows: { input: number; output: number };
  /** Seconds left, estimated from the progress so far; null when not running. */
  etaSeconds: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  error: string | null;
  /** Per gold dataset: files, rows, bytes, files replaced; and the job's own summary (the reconciliation report). */
  result: Record<string, unknown> | null;
}

/** Finished runs kept in memory (older ones are in the batch_jobs table). */
const KEPT_FINISHED = 200;
const SWEEP_INTERVAL_MS = 60_000;
const PROGRESS_LOG_INTERVAL_MS = 5_000;

/** Stages of a run and the share of the percentage each takes. */
const COMPUTE_FROM = 2;
const COMPUTE_TO = 70;
const WRITE_TO = 85;
const UPLOAD_TO = 97;

function gold(job: string): string {
  return `gold:${job}`;
}

/**
 * Runs batch jobs one at a time, in the order asked (API or schedule), over the archive: inputs
 * are the committed files of the catalog for the range (fetched from S3 into a local cache), the
 * job's SQL runs in DuckDB, outputs become gold datasets (Parquet in the archive's layout) swapped
 * into the catalog in one transaction. Progress (percent, rows, ETA) is on the API and in the logs;
 * runs are kept in memory and in the catalog's `batch_jobs` table.
 */
@Injectable()
export class BatchJobService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('BatchJobService');
  private readonly pool: Pool;
  private readonly s3: S3Client;
  private readonly catalog: BatchCatalog;
  private readonly runs = new Map<string, BatchRun>();
  private readonly queue: BatchRun[] = [];
  private readonly instance: string;
  private ready?: Promise<void>;
  private catalogReady = false;
  private duck?: Promise<DuckDBInstance>;
  private cache?: Promise<LocalObjectCache>;
  private working = false;
  private stopped = false;
  private current?: { run: BatchRun; connection?: DuckDBConnection };
  private scheduleTimer?: NodeJS.Timeout;
  private sweepTimer?: NodeJS.Timeout;
  private lastScheduleCheckNs = 0n;
  private idle: Promise<void> = Promise.resolve();
  private readonly runsTotal?: Counter<'job' | 'status'>;
  private readonly queueDepth?: Gauge;

  constructor(
    @Inject(BATCH_CONFIG) private readonly config: BatchConfig,
    @Optional() metrics?: TributaryMetrics,
  ) {
    this.pool = new Pool({
      connectionString: config.DATABASE_URL,
      application_name: 'historical-data-manager-batch',
      max: 3,
      connectionTimeoutMillis: 5_000,
      ...sessionTimeouts(config),
    });
    this.pool.on('error', () => undefined); // an idle connection lost: the next query opens another
    this.s3 = createS3Client(config);
    this.catalog = new BatchCatalog(this.pool, config.ARCHIVE_CATALOG_SCHEMA);
    this.instance = config.INSTANCE_ID ?? hostname();
    for (const entry of config.BATCH_SCHEDULE) {
      // a schedule the API would refuse (e.g. a period not made of whole flow windows) stops the start-up
      try {
        this.scheduledRequest(entry.job, 0n, entry.periodNs);
      } catch (error) {
        throw new Error(`BATCH_SCHEDULE: ${entry.text}: ${(error as Error).message}`);
      }
    }
    const registry = metrics?.registry;
    if (registry) {
      this.runsTotal =
        (registry.getSingleMetric('tributary_batch_runs_total') as Counter<'job' | 'status'> | undefined) ??
        new Counter({
          name: 'tributary_batch_runs_total',
          help: 'Batch runs finished, by job and status (succeeded, failed)',
          labelNames: ['job', 'status'],
          registers: [registry],
        });
      this.queueDepth =
        (registry.getSingleMetric('tributary_batch_queue_depth') as Gauge | undefined) ??
        new Gauge({ name: 'tributary_batch_queue_depth', help: 'Batch runs waiting to start', registers: [registry] });
    }
  }

  onModuleInit(): void {
    this.ready = this.prepareCatalog();
    this.ready.catch(() => undefined);
    this.lastScheduleCheckNs = BigInt(Date.now()) * 1_000_000n;
    this.armSchedule();
    this.sweepTimer = setInterval(() => void this.sweepObsoleteObjects(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.scheduleTimer);
    clearInterval(this.sweepTimer);
    this.current?.connection?.interrupt();
    await this.idle.catch(() => undefined);
    for (const run of this.queue.splice(0)) await this.finish(run, 'failed', 'the service stopped before the run started');
    await this.pool.end().catch(() => undefined);
    this.s3.destroy();
    const duck = await this.duck?.catch(() => undefined);
    duck?.closeSync();
  }

  /** Queues a run; 429 when the queue is full. */
  async submit(request: BatchJobRequest, trigger: BatchTrigger = 'api'): Promise<BatchRunView> {
    if (this.stopped) throw new BatchRequestRejection(429, null, 'the service is stopping; ask again later');
    const pending = this.queue.length + [...this.runs.values()].filter((r) => r.status === 'running').length;
    if (pending >= this.config.BATCH_MAX_QUEUED) {
      throw new BatchRequestRejection(
        429,
        null,
        `${pending} runs are queued or running; at most ${this.config.BATCH_MAX_QUEUED} at once (BATCH_MAX_QUEUED): ask again once some have finished`,
      );
    }
    const run: BatchRun = {
      id: randomUUID(),
      request,
      trigger,
      status: 'queued',
      percent: 0,
      stage: 'queued',
      inputRows: 0,
      outputRows: 0,
      error: null,
      result: null,
      createdAt: new Date(),
      startedAt: null,
      finishedAt: null,
    };
    const claimed = await this.persistNew(run);
    if (!claimed) return this.view(run); // another instance took this scheduled run
    this.runs.set(run.id, run);
    this.queue.push(run);
    this.queueDepth?.set(this.queue.length);
    this.log.log({ msg: 'batch run queued', id: run.id, job: request.job, from: formatInstant(request.fromNs), to: formatInstant(request.toNs), trigger });
    const queued = this.view(run);
    this.work();
    return queued;
  }

  /** One run, from memory or the history table; null when unknown. */
  async get(id: string): Promise<BatchRunView | null> {
    const run = this.runs.get(id);
    if (run) return this.view(run);
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return null;
    const rows = await this.historyRows('WHERE id = $1', [id], 1);
    return rows[0] ?? null;
  }

  /** The most recent runs first: this instance's in memory, then the history table's. */
  async list(limit: number): Promise<BatchRunView[]> {
    const local = [...this.runs.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).map((r) => this.view(r));
    let stored: BatchRunView[] = [];
    try {
      stored = await this.historyRows('', [], limit + local.length);
    } catch (error) {
      this.log.warn({ msg: 'batch run history unavailable', err: error });
    }
    const seen = new Set(local.map((r) => r.id));
    return [...local, ...stored.filter((r) => !seen.has(r.id))]
      .sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0))
      .slice(0, limit);
  }

  /** Resolves once nothing is queued or running (tests, shutdown). */
  whenIdle(): Promise<void> {
    return this.idle;
  }

  private scheduledRequest(job: BatchJobRequest['job'], fromNs: bigint, toNs: bigint): BatchJobRequest {
    return checkedRequest({ job, fromNs, toNs, symbols: [], params: parseJobParams(job, {}) } as BatchJobRequest, {
      maxRangeMs: this.config.BATCH_MAX_RANGE_MS,
      maxSymbols: 1000,
    });
  }

  private armSchedule(): void {
    if (this.stopped || this.config.BATCH_SCHEDULE.length === 0) return;
    const delayNs = BigInt(this.config.BATCH_SCHEDULE_DELAY) * 1_000_000n;
    const next = nextDueAt(this.config.BATCH_SCHEDULE, this.lastScheduleCheckNs, delayNs);
    if (next === null) return;
    const waitMs = Math.max(0, Math.min(Number((next - BigInt(Date.now()) * 1_000_000n) / 1_000_000n) + 1, 2 ** 31 - 1));
    this.scheduleTimer = setTimeout(() => void this.runSchedule(delayNs), waitMs);
    this.scheduleTimer.unref();
  }

  private async runSchedule(delayNs: bigint): Promise<void> {
    const now = BigInt(Date.now()) * 1_000_000n;
    const due = dueRuns(this.config.BATCH_SCHEDULE, this.lastScheduleCheckNs, now, delayNs);
    this.lastScheduleCheckNs = now;
    for (const { entry, fromNs, toNs } of due) {
      try {
        await this.submit(this.scheduledRequest(entry.job, fromNs, toNs), 'schedule');
      } catch (error) {
        this.log.error({ msg: 'scheduled batch run not queued', schedule: entry.text, err: error });
      }
    }
    this.armSchedule();
  }

  private work(): void {
    if (this.working) return;
    this.working = true;
    this.idle = (async () => {
      try {
        for (let run = this.queue.shift(); run !== undefined && !this.stopped; run = this.queue.shift()) {
          this.queueDepth?.set(this.queue.length);
          await this.execute(run);
        }
      } finally {
        this.working = false;
      }
    })();
  }

  private async prepareCatalog(): Promise<void> {
    for (let attempt = 1, delay = 1000; ; attempt++, delay = Math.min(delay * 2, 30_000)) {
      try {
        await migrateBatchCatalog(this.config.DATABASE_URL, this.config.ARCHIVE_CATALOG_SCHEMA);
        await this.pool.query(
          `UPDATE ${this.catalog.table('batch_jobs')} SET status = 'failed', finished_at = now(),
                  error = 'interrupted: the service stopped before the run finished'
            WHERE instance = $1 AND status IN ('queued', 'running')`,
          [this.instance],
        );
        this.catalogReady = true;
        return;
      } catch (error) {
        if (this.stopped) throw error;
        this.log.warn({ msg: 'batch catalog not ready; retrying', attempt, err: error });
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  private async execute(run: BatchRun): Promise<void> {
    const { request } = run;
    run.status = 'running';
    run.startedAt = new Date();
    this.setProgress(run, 0, 'waiting for the catalog');
    const dir = join(this.config.BATCH_WORK_DIR, 'runs', run.id);
    const leases: CacheLease[] = [];
    const uploaded: string[] = [];
    let connection: DuckDBConnection | undefined;
    try {
      await this.ready;
      await this.persistUpdate(run);
      await mkdir(dir, { recursive: true });
      connection = await (await this.duckdb()).connect();
      this.current = { run, connection };
      await connection.run(`SET TimeZone = 'UTC'`);
      await defineExactDecimalMacros(connection);

      this.setProgress(run, COMPUTE_FROM, `${request.job}: reading inputs`);
      const inputs: Record<string, { files: number; rows: number; bytes: number }> = {};
      const context: BatchJobContext = {
        connection,
        request,
        input: async (range: InputRange) => {
          const files = await this.catalog.files(range.dataset, range.fromNs, range.toNs, range.symbols);
          const lease = await (await this.localCache()).acquire(files.map((f) => ({ key: f.key, bytes: f.bytes })));
          leases.push(lease);
          const seen = (inputs[range.dataset] ??= { files: 0, rows: 0, bytes: 0 });
          seen.files += files.length;
          seen.rows += files.reduce((sum, f) => sum + f.rows, 0);
          seen.bytes += files.reduce((sum, f) => sum + f.bytes, 0);
          return lease.paths;
        },
        progress: (fraction, stage) =>
          this.setProgress(run, COMPUTE_FROM + (COMPUTE_TO - COMPUTE_FROM) * Math.min(Math.max(fraction, 0), 1), stage),
      };
      const output = await BATCH_JOB_RUNNERS[request.job](context);
      run.inputRows = output.inputRows;

      this.setProgress(run, COMPUTE_TO, 'writing gold files');
      const swaps: GoldSwap[] = [];
      const written: WrittenGoldFile[] = [];
      const datasets: Record<string, unknown> = {};
      for (const [index, out] of output.outputs.entries()) {
        const scope = { fromNs: request.fromNs, toNs: request.toNs, symbols: request.symbols };
        const current = await this.catalog.files(out.dataset, scope.fromNs, scope.toNs, scope.symbols);
        const partial = current.filter(
          (f) =>
            f.minEventTimeNs < scope.fromNs ||
            f.maxEventTimeNs >= scope.toNs ||
            (scope.symbols.length > 0 && f.symbols.some((s) => !scope.symbols.includes(s))),
        );
        const lease = await (await this.localCache()).acquire(partial.map((f) => ({ key: f.key, bytes: f.bytes })));
        leases.push(lease);
        const kept: ReplacedFile[] = partial.map((file, i) => ({ file, path: lease.paths[i] as string }));
        const files = await writeGoldFiles(connection, out, scope, kept, dir, run.id, (done, total) =>
          this.setProgress(
            run,
            COMPUTE_TO + ((WRITE_TO - COMPUTE_TO) * (index + done / total)) / output.outputs.length,
            `writing ${out.dataset}`,
          ),
        );
        written.push(...files);
        swaps.push({ ...scope, dataset: out.dataset, sourceTopic: gold(request.job), replaced: current.map((f) => f.key), added: files });
        const rows = files.reduce((sum, f) => sum + f.rows, 0);
        run.outputRows += rows;
        datasets[out.dataset] = {
          files: files.length,
          rows,
          bytes: files.reduce((sum, f) => sum + f.bytes, 0),
          replacedFiles: current.length,
        };
      }

      for (const [index, file] of written.entries()) {
        this.setProgress(run, WRITE_TO + ((UPLOAD_TO - WRITE_TO) * index) / Math.max(written.length, 1), 'uploading gold files');
        await this.upload(file);
        uploaded.push(file.key);
      }
      this.setProgress(run, UPLOAD_TO, 'committing to the catalog');
      await this.catalog.swap(swaps, this.config.BATCH_OBSOLETE_GRACE_MS);
      uploaded.length = 0; // committed: the catalog owns them now
      run.result = { inputs, outputs: datasets, ...output.summary };
      await this.finish(run, 'succeeded', null);
    } catch (error) {
      const message = this.stopped ? 'the service stopped during the run' : (error as Error).message;
      this.log.error({ msg: 'batch run failed', id: run.id, job: request.job, err: error });
      await this.deleteObjects(uploaded);
      await this.finish(run, 'failed', message);
    } finally {
      this.current = undefined;
      connection?.closeSync();
      for (const lease of leases) lease.release();
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private lastProgressLog = new Map<string, { at: number; stage: string }>();
  /** The history write in progress per run, so that its writes keep their order. */
  private readonly historyWrites = new Map<string, Promise<void>>();

  private setProgress(run: BatchRun, percent: number, stage: string): void {
    run.percent = Math.round(Math.max(run.percent, Math.min(percent, 100)) * 10) / 10;
    run.stage = stage;
    const last = this.lastProgressLog.get(run.id);
    const now = Date.now();
    if (last && last.stage === stage && now - last.at < PROGRESS_LOG_INTERVAL_MS) return;
    this.lastProgressLog.set(run.id, { at: now, stage });
    const view = this.view(run);
    this.log.log({
      msg: 'batch run progress',
      id: run.id,
      job: run.request.job,
      percent: view.percent,
      stage,
      inputRows: run.inputRows,
      outputRows: run.outputRows,
      etaSeconds: view.etaSeconds,
    });
    void this.persistUpdate(run);
  }

  private async finish(run: BatchRun, status: 'succeeded' | 'failed', error: string | null): Promise<void> {
    run.status = status;
    run.error = error;
    run.finishedAt = new Date();
    if (status === 'succeeded') run.percent = 100;
    run.stage = status;
    this.lastProgressLog.delete(run.id);
    this.runsTotal?.labels(run.request.job, status).inc();
    const view = this.view(run);
    this.log.log({
      msg: `batch run ${status}`,
      id: run.id,
      job: run.request.job,
      durationMs: view.durationMs,
      inputRows: run.inputRows,
      outputRows: run.outputRows,
      ...(error ? { error } : {}),
    });
    await this.persistUpdate(run);
    const finished = [...this.runs.values()].filter((r) => r.finishedAt !== null);
    for (const old of finished.slice(0, Math.max(0, finished.length - KEPT_FINISHED))) this.runs.delete(old.id);
  }

  private view(run: BatchRun): BatchRunView {
    const { request } = run;
    const elapsed = run.startedAt ? (run.finishedAt ?? new Date()).getTime() - run.startedAt.getTime() : null;
    const eta =
      run.status === 'running' && elapsed !== null && run.percent >= 1
        ? Math.round((elapsed * (100 - run.percent)) / run.percent / 1000)
        : null;
    return {
      id: run.id,
      job: request.job,
      from: formatInstant(request.fromNs),
      to: formatInstant(request.toNs),
      fromNs: request.fromNs.toString(),
      toNs: request.toNs.toString(),
      symbols: request.symbols,
      params: request.params as unknown as Record<string, unknown>,
      outputDatasets: outputDatasetsOf(request),
      trigger: run.trigger,
      status: run.status,
      percent: run.percent,
      stage: run.stage,
      rows: { input: run.inputRows, output: run.outputRows },
      etaSeconds: eta,
      createdAt: run.createdAt.toISOString(),
      startedAt: run.startedAt?.toISOString() ?? null,
      finishedAt: run.finishedAt?.toISOString() ?? null,
      durationMs: run.finishedAt && run.startedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null,
      error: run.error,
      result: run.result,
    };
  }

  /** Records a new run; false when it is a scheduled run another instance has claimed. */
  private async persistNew(run: BatchRun): Promise<boolean> {
    if (!this.catalogReady) return true; // recorded once the catalog is there (persistUpdate inserts it)
    try {
      const { rowCount } = await this.pool.query(`${this.upsertSql('DO NOTHING')}`, this.rowOf(run));
      return rowCount === 1;
    } catch (error) {
      // the history is a record, not a gate: the run goes ahead (a rerun replaces, so a doubled scheduled run is harmless)
      this.log.warn({ msg: 'batch run not recorded in the history', id: run.id, err: error });
      return true;
    }
  }

  /**
   * Writes the run's current state to the history table. Writes of one run go one after another,
   * each with the state as it is when it runs: a progress update sent without waiting can never land
   * after the final status and leave a finished run `running` in the table.
   */
  private persistUpdate(run: BatchRun): Promise<void> {
    const next = (this.historyWrites.get(run.id) ?? Promise.resolve()).then(() => this.writeHistory(run));
    this.historyWrites.set(run.id, next);
    void next.finally(() => {
      if (this.historyWrites.get(run.id) === next) this.historyWrites.delete(run.id);
    });
    return next;
  }

  private async writeHistory(run: BatchRun): Promise<void> {
    if (!this.catalogReady) return;
    try {
      await this.pool.query(
        this.upsertSql(`(id) DO UPDATE SET status = EXCLUDED.status, percent = EXCLUDED.percent, stage = EXCLUDED.stage,
           input_rows = EXCLUDED.input_rows, output_rows = EXCLUDED.output_rows, error = EXCLUDED.error,
           result = EXCLUDED.result, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at`),
        this.rowOf(run),
      );
    } catch (error) {
      this.log.warn({ msg: 'batch run history not updated', id: run.id, err: error });
    }
  }

  private upsertSql(onConflict: string): string {
    return `INSERT INTO ${this.catalog.table('batch_jobs')}
              (id, job, from_ns, to_ns, symbols, params, trigger, status, instance, created_at, percent, stage,
               input_rows, output_rows, error, result, started_at, finished_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
            ON CONFLICT ${onConflict}`;
  }

  private rowOf(run: BatchRun): unknown[] {
    return [
      run.id,
      run.request.job,
      run.request.fromNs.toString(),
      run.request.toNs.toString(),
      run.request.symbols,
      JSON.stringify(run.request.params),
      run.trigger,
      run.status,
      this.instance,
      run.createdAt,
      run.percent,
      run.stage,
      run.inputRows,
      run.outputRows,
      run.error,
      run.result === null ? null : JSON.stringify(run.result),
      run.startedAt,
      run.finishedAt,
    ];
  }

  private async historyRows(where: string, parameters: unknown[], limit: number): Promise<BatchRunView[]> {
    if (!this.catalogReady) return [];
    const { rows } = await this.pool.query(
      `SELECT id, job, from_ns, to_ns, symbols, params, trigger, status, percent, stage, input_rows, output_rows,
              error, result, created_at, started_at, finished_at
         FROM ${this.catalog.table('batch_jobs')} ${where} ORDER BY created_at DESC LIMIT ${Math.floor(limit)}`,
      parameters,
    );
    return rows.map((r: Record<string, unknown>) => {
      const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : null);
      const started = r['started_at'] as Date | null;
      const finished = r['finished_at'] as Date | null;
      return {
        id: String(r['id']),
        job: String(r['job']),
        from: formatInstant(BigInt(r['from_ns'] as string)),
        to: formatInstant(BigInt(r['to_ns'] as string)),
        fromNs: String(r['from_ns']),
        toNs: String(r['to_ns']),
        symbols: r['symbols'] as string[],
        params: r['params'] as Record<string, unknown>,
        outputDatasets: outputDatasetsOf({
          job: r['job'],
          params: r['params'],
        } as unknown as BatchJobRequest),
        trigger: r['trigger'] as BatchTrigger,
        status: r['status'] as BatchRunStatus,
        percent: Number(r['percent']),
        stage: String(r['stage'] ?? r['status']),
        rows: { input: Number(r['input_rows']), output: Number(r['output_rows']) },
        etaSeconds: null,
        createdAt: iso(r['created_at']) as string,
        startedAt: iso(started),
        finishedAt: iso(finished),
        durationMs: started && finished ? finished.getTime() - started.getTime() : null,
        error: (r['error'] as string | null) ?? null,
        result: (r['result'] as Record<string, unknown> | null) ?? null,
      };
    });
  }

  private duckdb(): Promise<DuckDBInstance> {
    this.duck ??= openDuckDb({
      threads: this.config.BATCH_THREADS,
      memoryLimitBytes: this.config.DUCKDB_MEMORY_LIMIT ?? 192 * 1024 * 1024,
      maxTempBytes: this.config.DUCKDB_MAX_TEMP_BYTES ?? 1024 * 1024 * 1024,
      tempDirectory: join(this.config.BATCH_WORK_DIR, 'duckdb-spill'),
    });
    return this.duck;
  }

  private localCache(): Promise<LocalObjectCache> {
    this.cache ??= LocalObjectCache.open({
      dir: join(this.config.BATCH_WORK_DIR, 'cache'),
      maxBytes: this.config.BATCH_CACHE_MAX_BYTES,
      fetchConcurrency: this.config.BATCH_FETCH_CONCURRENCY,
      fetch: (key, destination) => this.download(key, destination),
      boundName: 'BATCH_CACHE_MAX_BYTES',
    });
    return this.cache;
  }

  private async download(key: string, destination: string): Promise<void> {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.config.S3_BUCKET, Key: key }));
    await pipeline(object.Body as Readable, createWriteStream(destination));
  }

  private async upload(file: WrittenGoldFile): Promise<void> {
    await new Upload({
      client: this.s3,
      params: {
        Bucket: this.config.S3_BUCKET,
        Key: file.key,
        Body: createReadStream(file.path),
        ContentType: 'application/vnd.apache.parquet',
      },
      partSize: 8 * 1024 * 1024,
      queueSize: 4,
    }).done();
  }

  private async deleteObjects(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      try {
        await this.s3.send(
          new DeleteObjectsCommand({ Bucket: this.config.S3_BUCKET, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }),
        );
      } catch (error) {
        this.log.warn({ msg: 'objects left in S3 (not in the catalog, so invisible to readers)', keys: chunk.length, err: error });
      }
    }
  }

  /** Deletes the gold objects replaced by reruns once their grace period is over. */
  async sweepObsoleteObjects(): Promise<number> {
    try {
      await this.ready;
      const due = await this.catalog.dueObsoleteObjects(1000);
      if (due.length === 0) return 0;
      await this.s3.send(
        new DeleteObjectsCommand({ Bucket: this.config.S3_BUCKET, Delete: { Objects: due.map((Key) => ({ Key })), Quiet: true } }),
      );
      await this.catalog.forgetObsoleteObjects(due);
      return due.length;
    } catch (error) {
      this.log.warn({ msg: 'replaced gold objects not deleted yet', err: error });
      return 0;
    }
  }
}
