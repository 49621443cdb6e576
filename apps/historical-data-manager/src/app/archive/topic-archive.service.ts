import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
  Optional,
} from '@nestjs/common';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  ClusterAdmin,
  type KafkaBatchContext,
  type KafkaBatchServer,
  kafkaConnection,
  type PartitionOffsets,
  recordValueSize,
  type RevokedPartitions,
} from '@tributary/kafka';
import { createS3Client, TributaryMetrics } from '@tributary/observability';
import { Gauge } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { HistoricalDataManagerConfig } from '../../config';
import { type ArchiveDependency, DependencyUnavailableError } from './archive-dependencies';
import { DatasetArchiveBuffer } from './archive-flush-buffer';
import type { ArchivedTopic } from './archived-topics';
import { sessionTimeouts } from '@tributary/postgres';
import { catalogDataSource, migrateCatalog } from './catalog-database';
import { type ArchiveRecord, ParquetPartitionWriter } from './parquet-partition-writer';
import { type ArchiveBatchResult, type ArchivedDataset, TopicArchiver } from './topic-archiver';
import type { TopicIdentity } from './topic-identity-check';
import { TopicEpochs } from './topic-epochs';
import { type TopicArchiveState, TopicIdentityGuard } from './topic-identity-guard';

/**
 * What the archive needs of the consumer: stopping and restarting the fetches of its topics, and
 * reading a partition again from an offset (a new epoch starts at the start of the log).
 */
export type ArchiveConsumerControl = Pick<KafkaBatchServer, 'pause' | 'resume' | 'health'> & {
  rewind?(topic: string, partition: number, offset: bigint): void;
};

/** An operator's decision for a topic whose archived offsets do not fit the cluster's log. */
export type EpochDecision = { action: 'new-epoch' } | { action: 'reattach'; expected: TopicIdentity };

/** Topics waiting for a decision are checked again this often (the cause may go or change). */
const AWAITING_CHECK_INTERVAL_MS = 30_000;

/** A store the archive is waiting for. */
export interface ArchiveOutage {
  dependency: ArchiveDependency;
  /** ISO-8601 time of the first failure. */
  since: string;
  reason: string;
  /** Flush attempts that failed since. */
  attempts: number;
}

export const ARCHIVE_CONFIG = Symbol('ARCHIVE_CONFIG');
export const ARCHIVED_TOPICS = Symbol('ARCHIVED_TOPICS');

/** Why the archive paused the consumer's fetches. */
type PauseReason = 'outage' | 'backpressure';

/**
 * Feeds the configured topics into their dataset buffers and archives them: the catalog is
 * migrated at start-up (in the background, retried while PostgreSQL is away), each Kafka batch is
 * buffered and its offsets are committed by the consumer once the flush containing it is durable
 * in S3 and the catalog (deferred commit: the handler returns at once, so the consumer fetches on),
 * and what is buffered is flushed before the consumer leaves on shutdown.
 *
 * The buffers are bounded: at twice `ARCHIVE_FLUSH_ROWS` rows or twice `ARCHIVE_FLUSH_BYTES`
 * bytes not yet durable, the archived topics are paused and everything held is flushed; fetching
 * resumes below half of that. Records of partitions revoked in a rebalance are dropped from the
 * buffers (they are delivered again).
 *
 * While S3 or PostgreSQL is away, a flush is retried with backoff until it succeeds, its records
 * stay buffered (never failed, so never dead-lettered), and the consumer's fetches of the archived
 * topics are paused, which bounds the buffers; fetching resumes once a flush went through.
 */
@Injectable()
export class TopicArchiveService implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly log = new Logger(TopicArchiveService.name);
  private readonly buffers = new Map<string, DatasetArchiveBuffer>();
  private readonly byTopic = new Map<string, ArchivedTopic>();
  private archiver?: TopicArchiver;
  private started?: Promise<TopicArchiver>;
  private flushes: Promise<void> = Promise.resolve();
  private s3?: S3Client;
  private catalog?: DataSource;
  private writer?: ParquetPartitionWriter;
  private stopped = false;
  private stopping = false;
  private readonly stopSignal = new AbortController();
  private consumer?: ArchiveConsumerControl;
  private outage: ArchiveOutage | null = null;
  private readonly pausedFor = new Set<PauseReason>();
  /** Per `topic|partition`: whether its last batch reached the partition's end (nothing more waiting). */
  private readonly caughtUp = new Map<string, boolean>();
  private readonly maxBufferedRows: number;
  private readonly maxBufferedBytes: number;
  private guard?: TopicIdentityGuard;
  private admin?: ClusterAdmin;
  /** Topics stopped until an operator decides (their archived offsets do not fit the cluster's log). */
  private readonly awaitingDecision = new Set<string>();
  private awaitingTimer?: NodeJS.Timeout;
  private readonly mismatchGauge?: Gauge<string>;

  constructor(
    @Inject(ARCHIVE_CONFIG) private readonly config: HistoricalDataManagerConfig,
    @Inject(ARCHIVED_TOPICS) topics: ArchivedTopic[],
    @Optional() metrics?: TributaryMetrics,
  ) {
    for (const topic of topics) this.byTopic.set(topic.dataset.topic, topic);
    this.maxBufferedRows = 2 * config.ARCHIVE_FLUSH_ROWS;
    this.maxBufferedBytes = 2 * config.ARCHIVE_FLUSH_BYTES;
    const registry = metrics?.registry;
    if (registry) {
      const name = 'tributary_archive_identity_mismatch';
      this.mismatchGauge =
        (registry.getSingleMetric(name) as Gauge<string> | undefined) ??
        new Gauge({
          name,
          help: 'Archived topics stopped because their archived offsets belong to another Kafka cluster or topic ID (1 while waiting for a decision)',
          labelNames: ['dataset', 'topic', 'reason', 'stored_cluster', 'current_cluster', 'stored_topic_id', 'current_topic_id'],
          registers: [registry],
        });
    }
  }

  onModuleInit(): void {
    if (this.byTopic.size === 0) return;
    this.started = this.start();
    this.started.catch(() => undefined);
  }

  /**
   * Buffers one Kafka batch of `topic` and returns; the consumer commits its offsets once the
   * flush containing it is durable in S3 and the catalog (`commitWhenDurable`).
   */
  async archiveBatch(topic: string, values: unknown[], batch: KafkaBatchContext): Promise<void> {
    const archived = this.byTopic.get(topic);
    if (archived === undefined || this.started === undefined)
      throw new Error(`${topic} is not an archived topic`);
    await this.started;
    const records: ArchiveRecord[] = [];
    let bytes = 0;
    for (let i = 0; i < values.length; i++) {
      const record = batch.record(i);
      const value = values[i] as Record<string, unknown>;
      const eventTime = record.eventTime ?? archived.spec.eventTime(value as never);
      bytes += recordValueSize(record.raw);
      records.push({ offset: record.raw.offset, key: record.key, eventTimeNs: BigInt(eventTime), value });
    }
    batch.commitWhenDurable(this.bufferOf(archived).add(batch.partition, records, bytes));
    const watermark = batch.highWatermark === '' ? null : BigInt(batch.highWatermark);
    this.caughtUp.set(`${topic}|${batch.partition}`, watermark === null || BigInt(batch.lastOffset) + 1n >= watermark);
    if (this.stopping) {
      void this.flushAll(); // the consumer commits what is durable before it leaves
      return;
    }
    this.applyBackpressure();
    this.flushIfNothingMoreComing();
  }

  /**
   * Every partition that delivered records has been read to its end: nothing more arrives soon,
   * and waiting for the age limit would only delay the commit. With enough rows held
   * (`ARCHIVE_FLUSH_BLOCKED_MIN_ROWS`, so a slow stream still makes files of a useful size), flush now.
   */
  private flushIfNothingMoreComing(): void {
    let heldRows = 0;
    for (const buffer of this.buffers.values()) heldRows += buffer.heldRows;
    if (heldRows < this.config.ARCHIVE_FLUSH_BLOCKED_MIN_ROWS) return;
    for (const caughtUp of this.caughtUp.values()) if (!caughtUp) return;
    void this.flushAll();
  }

  /** Pauses the archived topics while the buffers hold too much not yet durable; resumes below half. */
  private applyBackpressure(): void {
    let rows = 0;
    let bytes = 0;
    for (const buffer of this.buffers.values()) {
      rows += buffer.bufferedRows;
      bytes += buffer.bufferedBytes;
    }
    if (rows >= this.maxBufferedRows || bytes >= this.maxBufferedBytes) {
      this.pauseConsumer('backpressure');
      void this.flushAll();
    } else if (rows < this.maxBufferedRows / 2 && bytes < this.maxBufferedBytes / 2) {
      this.resumeConsumer('backpressure');
    }
  }

  /** The consumer feeding the archive, so an outage or full buffers can pause its fetches. */
  useConsumer(consumer: ArchiveConsumerControl): void {
    this.consumer = consumer;
    for (const topic of this.awaitingDecision) consumer.pause(topic);
    for (const reason of this.pausedFor) {
      this.pausedFor.delete(reason);
      this.pauseConsumer(reason);
    }
  }

  /**
   * Partitions the consumer no longer commits for (a rebalance): their held records are dropped,
   * since they are delivered again, here or to the partition's new owner.
   */
  dropRevoked(revoked: readonly RevokedPartitions[]): void {
    for (const { topic, partitions } of revoked) {
      const archived = this.byTopic.get(topic);
      if (archived === undefined) continue;
      for (const partition of partitions) this.caughtUp.delete(`${topic}|${partition}`);
      const dropped = this.buffers.get(archived.dataset.name)?.drop(partitions) ?? 0;
      if (dropped > 0) this.log.log(`${topic} partitions ${partitions.join(', ')} revoked: ${dropped} buffered rows dropped (delivered again)`);
    }
    this.applyBackpressure();
  }

  /** The store the archive is waiting for, or null while flushes go through. */
  currentOutage(): ArchiveOutage | null {
    return this.outage === null ? null : { ...this.outage };
  }

  /** Whether the consumer's fetches are paused (a store is away, or the buffers are full). */
  get consumptionPaused(): boolean {
    return this.pausedFor.size > 0;
  }

  /** Datasets this instance archives (so it may hold rows not yet flushed). */
  archivedDatasets(): ArchivedDataset[] {
    return [...this.byTopic.values()].map((t) => t.dataset);
  }

  /** Records of `dataset` received and not yet committed to the catalog, per topic partition. */
  bufferedRecords(dataset: string): { topicPartition: number; records: readonly ArchiveRecord[] }[] {
    return this.buffers.get(dataset)?.buffered() ?? [];
  }

  /** Rows received and not yet committed to the catalog: held, or in a flush under way (or waiting for a store). */
  bufferedRowCount(): number {
    let rows = 0;
    for (const buffer of this.buffers.values()) for (const part of buffer.buffered()) rows += part.records.length;
    return rows;
  }

  /** Rows received from Kafka and held, not yet in a flush (so not committed). */
  heldRows(): number {
    let rows = 0;
    for (const buffer of this.buffers.values()) rows += buffer.heldRows;
    return rows;
  }

  /** Writes every held batch now. */
  async flushAll(): Promise<void> {
    await Promise.all([...this.buffers.values()].map((buffer) => buffer.flush()));
  }

  async onModuleDestroy(): Promise<void> {
    // held batches complete, so the consumer's close() commits them instead of waiting; a flush
    // waiting for a store that is away gives up (its records are redelivered after the restart)
    this.stopping = true;
    this.stopSignal.abort();
    await this.flushAll();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.awaitingTimer);
    await this.admin?.close().catch(() => undefined);
    await this.flushAll();
    await this.flushes;
    this.writer?.close();
    await this.catalog?.destroy().catch(() => undefined);
    this.s3?.destroy();
  }

  /** Every archived topic's state: archiving, or waiting for an operator's decision and why. */
  topicStates(): TopicArchiveState[] {
    return (
      this.guard?.all() ??
      [...this.byTopic.values()].map((t) => ({
        topic: t.dataset.topic,
        dataset: t.dataset.name,
        state: 'verifying' as const,
        epoch: null,
        stored: null,
        current: null,
        mismatch: null,
      }))
    );
  }

  /** The state of the topic archived into `dataset` here, or undefined when this instance does not archive it. */
  datasetState(dataset: string): TopicArchiveState | undefined {
    return this.topicStates().find((state) => state.dataset === dataset);
  }

  /** Checks every topic's identity again (the consumer joined its group: a new assignment). */
  async checkIdentities(): Promise<void> {
    await this.guard?.checkAll();
  }

  /**
   * Applies an operator's decision for the topic of `dataset` waiting for one (see
   * {@link TopicIdentityGuard.newEpoch} and {@link TopicIdentityGuard.reattach}).
   */
  async decide(dataset: string, decision: EpochDecision, by: string): Promise<TopicArchiveState> {
    const state = this.datasetState(dataset);
    if (state === undefined) throw new Error(`dataset ${dataset} is not archived by this instance`);
    await this.started;
    const guard = this.guard as TopicIdentityGuard;
    return decision.action === 'new-epoch' ? guard.newEpoch(state.topic, by) : guard.reattach(state.topic, decision.expected, by);
  }

  private identityGuard(catalog: DataSource, schema: string): TopicIdentityGuard {
    this.admin = new ClusterAdmin(kafkaConnection(this.config, 'historical-data-manager'));
    const datasets = new Map([...this.byTopic.values()].map((t) => [t.dataset.topic, t.dataset.name]));
    return new TopicIdentityGuard(new TopicEpochs(catalog, schema), this.admin, datasets, {
      awaiting: (state) => this.stopTopic(state),
      cleared: (state, start) => this.restartTopic(state, start),
    });
  }

  /** Stops fetching a topic until a decision; its buffered records fail their flush and come again. */
  private stopTopic(state: TopicArchiveState): void {
    this.showMismatches();
    if (this.awaitingDecision.has(state.topic)) return;
    this.awaitingDecision.add(state.topic);
    this.consumer?.pause(state.topic);
  }

  /** Fetches a topic again after a decision (from the start of its log for a new epoch). */
  private restartTopic(state: TopicArchiveState, start: PartitionOffsets[] | null): void {
    this.showMismatches();
    if (!this.awaitingDecision.delete(state.topic)) return;
    for (const { partition, low } of start ?? []) this.consumer?.rewind?.(state.topic, partition, BigInt(low));
    if (this.pausedFor.size === 0) this.consumer?.resume(state.topic);
  }

  /** `tributary_archive_identity_mismatch`: one series per topic waiting for a decision, with both identities. */
  private showMismatches(): void {
    if (this.mismatchGauge === undefined) return;
    this.mismatchGauge.reset();
    for (const s of this.guard?.all() ?? []) {
      if (s.state !== 'awaiting-decision') continue;
      this.mismatchGauge
        .labels({
          dataset: s.dataset,
          topic: s.topic,
          reason: s.mismatch?.kind ?? '',
          stored_cluster: s.stored?.clusterId ?? '',
          current_cluster: s.current?.clusterId ?? '',
          stored_topic_id: s.stored?.topicId ?? '',
          current_topic_id: s.current?.topicId ?? '',
        })
        .set(1);
    }
  }

  private bufferOf(archived: ArchivedTopic): DatasetArchiveBuffer {
    let buffer = this.buffers.get(archived.dataset.name);
    if (buffer === undefined) {
      buffer = new DatasetArchiveBuffer(
        archived.dataset,
        {
          maxRows: this.config.ARCHIVE_FLUSH_ROWS,
          maxBytes: this.config.ARCHIVE_FLUSH_BYTES,
          maxAgeMs: this.config.ARCHIVE_FLUSH_AGE_MS,
        },
        (flush) => this.serialise(flush),
        (dataset, topicPartition, records) => this.archiveUntilDurable(dataset, topicPartition, records),
      );
      this.buffers.set(archived.dataset.name, buffer);
    }
    return buffer;
  }

  /**
   * Archives one partition's records; while S3 or PostgreSQL is away, pauses the consumer and
   * tries again with backoff (500 ms doubling to 10 s) until the store answers or the service stops.
   */
  private async archiveUntilDurable(
    dataset: ArchivedDataset,
    topicPartition: number,
    records: ArchiveRecord[],
  ): Promise<ArchiveBatchResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await (this.archiver as TopicArchiver).archive(dataset, topicPartition, records);
        this.recovered();
        return result;
      } catch (error) {
        // a topic waiting for a decision: its records are neither archived nor committed, they come again after it
        if (!(error instanceof DependencyUnavailableError) || this.stopping) throw error;
        this.noteOutage(error.dependency, error.message);
        try {
          await sleep(Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)), undefined, { signal: this.stopSignal.signal });
        } catch {
          throw error; // stopping: the held batches fail and are redelivered after the restart
        }
      }
    }
  }

  private noteOutage(dependency: ArchiveDependency, reason: string): void {
    if (this.outage?.dependency === dependency) {
      this.outage.attempts++;
      this.outage.reason = reason;
    } else {
      this.outage = { dependency, since: new Date().toISOString(), reason, attempts: 1 };
      this.log.warn(`archive waiting for ${dependency}: ${reason}; consumption paused, records held`);
    }
    this.pauseConsumer('outage');
  }

  private recovered(): void {
    if (this.outage === null) return;
    this.log.log(`${this.outage.dependency} is back after ${this.outage.attempts} failed attempt(s); consumption resumes`);
    this.outage = null;
    this.resumeConsumer('outage');
  }

  private pauseConsumer(reason: PauseReason): void {
    if (this.pausedFor.has(reason)) return;
    const wasPaused = this.pausedFor.size > 0;
    this.pausedFor.add(reason);
    if (wasPaused || this.consumer === undefined) return;
    for (const topic of this.byTopic.keys()) this.consumer.pause(topic);
  }

  private resumeConsumer(reason: PauseReason): void {
    if (!this.pausedFor.delete(reason) || this.pausedFor.size > 0) return;
    for (const topic of this.byTopic.keys()) if (!this.awaitingDecision.has(topic)) this.consumer?.resume(topic);
  }

  /** One DuckDB writer: flushes run one after another; after each, the buffers may have room again. */
  private serialise(flush: () => Promise<void>): Promise<void> {
    const next = this.flushes.then(flush);
    this.flushes = next.catch(() => undefined).then(() => this.applyBackpressure());
    return next;
  }

  private async start(): Promise<TopicArchiver> {
    const schema = this.config.ARCHIVE_CATALOG_SCHEMA;
    for (let attempt = 0; ; attempt++) {
      try {
        const applied = await migrateCatalog(this.config.DATABASE_URL, schema);
        if (applied.length > 0) this.log.log(`archive catalog "${schema}" migrated: ${applied.join(', ')}`);
        this.catalog = await catalogDataSource(
          this.config.DATABASE_URL,
          schema,
          'historical-data-manager',
          sessionTimeouts(this.config),
        ).initialize();
        break;
      } catch (error) {
        if (this.stopped) throw error;
        this.noteOutage('postgres', (error as Error).message);
        this.log.warn(`archive catalog not ready (${(error as Error).message}); retrying`);
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)));
      }
    }
    this.s3 = createS3Client(this.config);
    // The archive's own DuckDB instance gets the same memory and spill budget as the query API's.
    this.writer = await ParquetPartitionWriter.open({
      limits: {
        memoryLimitBytes: this.config.DUCKDB_MEMORY_LIMIT,
        maxTempBytes: this.config.DUCKDB_MAX_TEMP_BYTES,
        tempDirectory: join(this.config.HISTORY_CACHE_DIR, 'duckdb-archive-spill'),
        threads: 2,
      },
    });
    this.guard = this.identityGuard(this.catalog, schema);
    const guard = this.guard;
    await guard.checkAll();
    this.awaitingTimer = setInterval(() => void guard.checkAwaiting(), AWAITING_CHECK_INTERVAL_MS);
    this.awaitingTimer.unref();
    this.archiver = new TopicArchiver(this.writer, this.s3, this.config.S3_BUCKET, this.catalog, schema, (topic) => guard.admit(topic));
    this.recovered();
    this.log.log(`archiving ${[...this.byTopic.keys()].join(', ')} to s3://${this.config.S3_BUCKET}/`);
    return this.archiver;
  }
}
