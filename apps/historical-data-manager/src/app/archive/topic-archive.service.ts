import { setTimeout as sleep } from 'node:timers/promises';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { S3Client } from '@aws-sdk/client-s3';
import type { KafkaBatchContext } from '@tributary/kafka';
import { createS3Client } from '@tributary/observability';
import type { DataSource } from 'typeorm';
import type { HistoricalDataManagerConfig } from '../../config';
import { DatasetArchiveBuffer } from './archive-flush-buffer';
import type { ArchivedTopic } from './archived-topics';
import { catalogDataSource, migrateCatalog } from './catalog-database';
import { type ArchiveRecord, ParquetPartitionWriter } from './parquet-partition-writer';
import { TopicArchiver } from './topic-archiver';

export const ARCHIVE_CONFIG = Symbol('ARCHIVE_CONFIG');
export const ARCHIVED_TOPICS = Symbol('ARCHIVED_TOPICS');

/**
 * Feeds the configured topics into their dataset buffers and archives them: the catalog is
 * migrated at start-up (in the background, retried while PostgreSQL is away), each Kafka batch is
 * held until the flush containing it is durable in S3 and the catalog, and what is held is
 * flushed before the consumer leaves on shutdown.
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

  constructor(
    @Inject(ARCHIVE_CONFIG) private readonly config: HistoricalDataManagerConfig,
    @Inject(ARCHIVED_TOPICS) topics: ArchivedTopic[],
  ) {
    for (const topic of topics) this.byTopic.set(topic.dataset.topic, topic);
  }

  onModuleInit(): void {
    if (this.byTopic.size === 0) return;
    this.started = this.start();
    this.started.catch(() => undefined);
  }

  /** Archives one Kafka batch of `topic`; resolves when its records are durable in S3 and the catalog. */
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
      bytes += record.message.value?.length ?? 0;
      records.push({ offset: BigInt(record.offset), key: record.key, eventTimeNs: BigInt(eventTime), value });
    }
    await this.bufferOf(archived).add(batch.partition, records, bytes);
  }

  /** Rows received from Kafka and held, not yet durable (so not committed). */
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
    // held batches complete, so the consumer's close() commits them instead of waiting
    await this.flushAll();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.flushAll();
    await this.flushes;
    this.writer?.close();
    await this.catalog?.destroy().catch(() => undefined);
    this.s3?.destroy();
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
        (dataset, topicPartition, records) =>
          (this.archiver as TopicArchiver).archive(dataset, topicPartition, records),
      );
      this.buffers.set(archived.dataset.name, buffer);
    }
    return buffer;
  }

  /** One DuckDB writer: flushes run one after another. */
  private serialise(flush: () => Promise<void>): Promise<void> {
    const next = this.flushes.then(flush);
    this.flushes = next.catch(() => undefined);
    return next;
  }

  private async start(): Promise<TopicArchiver> {
    const schema = this.config.ARCHIVE_CATALOG_SCHEMA;
    for (let attempt = 0; ; attempt++) {
      try {
        const applied = await migrateCatalog(this.config.DATABASE_URL, schema);
        if (applied.length > 0) this.log.log(`archive catalog "${schema}" migrated: ${applied.join(', ')}`);
        this.catalog = await catalogDataSource(this.config.DATABASE_URL, schema).initialize();
        break;
      } catch (error) {
        if (this.stopped) throw error;
        this.log.warn(`archive catalog not ready (${(error as Error).message}); retrying`);
        await sleep(Math.min(30_000, 500 * 2 ** Math.min(attempt, 6)));
      }
    }
    this.s3 = createS3Client(this.config);
    this.writer = await ParquetPartitionWriter.open();
    this.archiver = new TopicArchiver(this.writer, this.s3, this.config.S3_BUCKET, this.catalog, schema);
    this.log.log(`archiving ${[...this.byTopic.keys()].join(', ')} to s3://${this.config.S3_BUCKET}/`);
    return this.archiver;
  }
}
