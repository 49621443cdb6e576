import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { kafkaConnection } from '@tributary/kafka';
import { createS3Client, TributaryMetrics } from '@tributary/observability';
import { sessionTimeouts } from '@tributary/postgres';
import { Gauge } from 'prom-client';
import { Pool } from 'pg';
import type { HistoricalDataManagerConfig } from '../../config';
import { DependencyUnavailableError, isPostgresUnavailable } from '../archive/archive-dependencies';
import { resolveArchivedTopics } from '../archive/archived-topics';
import { ParquetPartitionWriter } from '../archive/parquet-partition-writer';
import { ARCHIVE_CONFIG } from '../archive/topic-archive.service';
import { QueryRejection } from '../query/query-parameters';
import { ArchiveRepairer, type RepairReport } from './archive-repairer';
import { ArchiveVerifier, type VerificationReport } from './archive-verifier';
import { IntegrityCatalog } from './integrity-catalog';

/**
 * The catalog checked against the store: verification every `ARCHIVE_VERIFY_INTERVAL_MS` and on
 * request, repair on request, the dataset's integrity report, and the gauges
 * `tributary_archive_files_{missing,corrupt,orphaned,lost}{dataset}`. One verification or repair
 * of a dataset at a time in an instance (a second request waits for it and gets its own answer).
 */
@Injectable()
export class ArchiveIntegrityService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger(ArchiveIntegrityService.name);
  private readonly pool: Pool;
  private readonly s3: S3Client;
  private readonly catalog: IntegrityCatalog;
  private readonly verifier: ArchiveVerifier;
  private readonly repairer: ArchiveRepairer;
  private writer?: Promise<ParquetPartitionWriter>;
  private timer?: NodeJS.Timeout;
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly gauges: Record<'missing' | 'corrupt' | 'orphaned' | 'lost', Gauge<'dataset'>>;

  constructor(
    @Inject(ARCHIVE_CONFIG) private readonly config: HistoricalDataManagerConfig,
    metrics: TributaryMetrics,
  ) {
    this.pool = new Pool({
      connectionString: config.DATABASE_URL,
      application_name: 'historical-data-manager-integrity',
      max: 2,
      connectionTimeoutMillis: 5_000,
      ...sessionTimeouts(config),
    });
    this.pool.on('error', () => undefined);
    this.s3 = createS3Client(config);
    this.catalog = new IntegrityCatalog(this.pool, config.ARCHIVE_CATALOG_SCHEMA);
    this.verifier = new ArchiveVerifier(this.s3, config.S3_BUCKET, this.catalog);
    this.repairer = new ArchiveRepairer(
      this.s3,
      config.S3_BUCKET,
      this.catalog,
      kafkaConnection(config, 'historical-data-manager'),
      () => this.openWriter(),
      resolveArchivedTopics(config.ARCHIVE_TOPICS),
    );
    const registry = metrics.registry;
    const gauge = (name: string, help: string) =>
      (registry.getSingleMetric(name) as Gauge<'dataset'> | undefined) ??
      new Gauge({ name, help, labelNames: ['dataset'], registers: [registry] });
    this.gauges = {
      missing: gauge(
        'tributary_archive_files_missing',
        'Catalogued archive files whose object the last verification found missing',
      ),
      corrupt: gauge(
        'tributary_archive_files_corrupt',
        'Catalogued archive files whose object differs from what was committed (size, checksum)',
      ),
      orphaned: gauge(
        'tributary_archive_files_orphaned',
        'Objects under a dataset prefix that no catalog row owns',
      ),
      lost: gauge(
        'tributary_archive_files_lost',
        'Archive files lost for good (gaps): missing and no longer in Kafka',
      ),
    };
  }

  onModuleInit(): void {
    const interval = this.config.ARCHIVE_VERIFY_INTERVAL_MS;
    if (interval > 0) {
      this.timer = setInterval(() => void this.verifyAll(), interval);
      this.timer.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled(this.running.values());
    await this.pool.end().catch(() => undefined);
    this.s3.destroy();
    const writer = await this.writer?.catch(() => undefined);
    writer?.close();
  }

  /** The scheduled pass: every dataset of the catalog, one after the other. */
  private async verifyAll(): Promise<void> {
    try {
      for (const dataset of await this.catalog.datasetNames()) await this.verify(dataset, false);
    } catch (error) {
      this.log.warn({ msg: 'scheduled archive verification failed', err: error });
    }
  }

  async verify(dataset: string, deep: boolean): Promise<VerificationReport> {
    await this.known(dataset);
    const report = await this.exclusive(dataset, () =>
      this.verifier.verify(dataset, {
        deep,
        orphanGraceMs: this.config.ARCHIVE_VERIFY_ORPHAN_GRACE_MS,
        concurrency: this.config.ARCHIVE_VERIFY_CONCURRENCY,
      }),
    );
    await this.updateGauges(dataset);
    const level = report.counts.missing + report.counts.corrupt + report.counts.orphaned > 0 ? 'warn' : 'log';
    this.log[level]({
      msg: 'archive verified against the store',
      dataset,
      deep,
      filesChecked: report.filesChecked,
      objectsListed: report.objectsListed,
      ...report.counts,
      backfilled: report.backfilled,
      missingKeys: report.missing.slice(0, 20).map((f) => f.key),
      corruptKeys: report.corrupt.slice(0, 20).map((f) => f.key),
      orphanedKeys: report.orphaned.slice(0, 20).map((o) => o.key),
    });
    return report;
  }

  async repair(dataset: string): Promise<RepairReport> {
    await this.known(dataset);
    const report = await this.exclusive(dataset, () => this.repairer.repair(dataset));
    await this.updateGauges(dataset);
    this.log.warn({
      msg: 'archive repaired',
      dataset,
      repaired: report.repaired.map((f) => f.key),
      lost: report.lost.map((f) => `${f.sourceTopic}[${f.partition}]:${f.fromOffset}-${f.toOffset}`),
      failed: report.failed,
    });
    return report;
  }

  async report(
    dataset: string,
  ): Promise<Awaited<ReturnType<IntegrityCatalog['report']>> & { dataset: string }> {
    await this.known(dataset);
    return { dataset, ...(await this.unlessCatalogDown(() => this.catalog.report(dataset, 1000))) };
  }

  private async updateGauges(dataset: string): Promise<void> {
    const { lastCheck, gaps } = await this.catalog.report(dataset, 1);
    const unreadable = await this.pool.query(
      `SELECT count(*) FILTER (WHERE state = 'missing')::int AS missing, count(*) FILTER (WHERE state = 'corrupt')::int AS corrupt,
              (SELECT count(*)::int FROM "${this.config.ARCHIVE_CATALOG_SCHEMA.replace(/"/g, '""')}".lost_files WHERE dataset = $1) AS lost
         FROM "${this.config.ARCHIVE_CATALOG_SCHEMA.replace(/"/g, '""')}".files WHERE dataset = $1`,
      [dataset],
    );
    const row = unreadable.rows[0] as { missing: number; corrupt: number; lost: number };
    this.gauges.missing.labels(dataset).set(row.missing);
    this.gauges.corrupt.labels(dataset).set(row.corrupt);
    this.gauges.lost.labels(dataset).set(row.lost);
    this.gauges.orphaned.labels(dataset).set(Number(lastCheck?.['orphaned'] ?? 0));
    void gaps;
  }

  private async known(dataset: string): Promise<void> {
    if (!(await this.unlessCatalogDown(() => this.catalog.datasetExists(dataset)))) {
      throw new QueryRejection(404, null, `unknown dataset "${dataset}"`);
    }
  }

  private async exclusive<T>(dataset: string, work: () => Promise<T>): Promise<T> {
    const before = this.running.get(dataset) ?? Promise.resolve();
    const next = before.catch(() => undefined).then(() => this.unlessCatalogDown(work));
    this.running.set(dataset, next);
    try {
      return await next;
    } finally {
      if (this.running.get(dataset) === next) this.running.delete(dataset);
    }
  }

  private openWriter(): Promise<ParquetPartitionWriter> {
    this.writer ??= ParquetPartitionWriter.open({
      limits: {
        memoryLimitBytes: this.config.DUCKDB_MEMORY_LIMIT,
        maxTempBytes: this.config.DUCKDB_MAX_TEMP_BYTES,
        tempDirectory: join(this.config.HISTORY_CACHE_DIR, 'duckdb-repair-spill'),
        threads: 1,
      },
    });
    return this.writer;
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
