import type { S3Client } from '@aws-sdk/client-s3';
import type { DataSource } from 'typeorm';
import { type ObjectChecksum, uploadWithChecksum } from '../integrity/object-checksum';
import { asPostgresOutage, DependencyUnavailableError } from './archive-dependencies';
import { archiveObjectKey } from './archive-layout';
import { quoteIdentifier } from './catalog-migrations';
import type { TopicIdentity } from './topic-identity-check';
import { TopicAwaitingDecisionError } from './topic-identity-guard';
import type { ArchiveColumn, ArchiveRecord, ParquetPartitionWriter, WrittenPartitionFile } from './parquet-partition-writer';

export interface ArchivedDataset {
  name: string;
  topic: string;
  schemaVersion: number;
  columns: ArchiveColumn[];
  retentionDays: number | null;
}

export interface ArchiveBatchResult {
  /** Object keys committed to the catalog by this call. */
  committed: string[];
  /** Records skipped because the catalog already holds their offsets (redelivered after a crash). */
  skipped: number;
}

/** The batch starts below the partition's archived offset: another writer committed these records first. */
export class ArchiveFencedError extends Error {}

/** The epoch a flush writes to and the Kafka identity its offsets belong to (null: not known to this writer). */
export interface ArchiveSource {
  epoch: number;
  identity: TopicIdentity | null;
}

/**
 * The epoch a flush of a topic writes to; throws when the topic may not be archived now
 * (`TopicIdentityGuard.admit`). Without one (tools, tests without Kafka) the archiver writes epoch 1
 * with no identity, which the service verifies and adopts at its next start like an older catalog.
 */
export type EpochOfTopic = (topic: string) => Promise<ArchiveSource>;

const UNVERIFIED: EpochOfTopic = () => Promise.resolve({ epoch: 1, identity: null });

/**
 * Archives the records of one topic partition exactly once, in this order: write Parquet, upload
 * each object under its offset-derived key, then one catalog transaction that records the files and
 * moves the partition's archived offset. The caller commits the Kafka offsets only after this
 * returns.
 *
 * A crash before the catalog commit leaves at most objects that the catalog does not list (a retry
 * of the same offsets overwrites them); a crash after it, before the Kafka commit, redelivers records
 * whose offsets the catalog already holds, and they are skipped.
 *
 * A failure to reach S3 or PostgreSQL is thrown as a {@link DependencyUnavailableError}, so the
 * caller waits for the store instead of failing the records.
 */
export class TopicArchiver {
  constructor(
    private readonly writer: ParquetPartitionWriter,
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly catalog: DataSource,
    private readonly catalogSchema: string,
    private readonly epochOf: EpochOfTopic = UNVERIFIED,
  ) {}

  async archive(dataset: ArchivedDataset, topicPartition: number, records: ArchiveRecord[]): Promise<ArchiveBatchResult> {
    const source = await this.epochOf(dataset.topic);
    const nextOffset = await this.archivedOffset(dataset.topic, topicPartition, source.epoch);
    const pending = nextOffset === null ? records : records.filter((r) => r.offset >= nextOffset);
    const skipped = records.length - pending.length;
    if (pending.length === 0) return { committed: [], skipped };

    const files = await this.writer.write(topicPartition, dataset.columns, pending);
    try {
      const keyed = files.map((file) => ({
        file,
        key: archiveObjectKey(dataset.name, file.partition, dataset.topic, topicPartition, file.firstOffset, file.lastOffset, source.epoch),
        checksum: undefined as ObjectChecksum | undefined,
      }));
      try {
        for (const entry of keyed) entry.checksum = await this.upload(entry.key, entry.file);
      } catch (error) {
        // an upload fails because of the S3 server, never because of the records
        throw new DependencyUnavailableError('s3', error);
      }
      const batchFirst = pending[0]?.offset as bigint;
      const batchNext = (pending[pending.length - 1]?.offset as bigint) + 1n;
      await this.commit(dataset, topicPartition, batchFirst, batchNext, keyed, source).catch((error: unknown) => {
        throw asPostgresOutage(error);
      });
      return { committed: keyed.map((k) => k.key), skipped };
    } finally {
      await this.writer.discard(files);
    }
  }

  /** The next offset of `topic`/`partition` not yet archived in `epoch`, or null before its first commit. */
  async archivedOffset(topic: string, topicPartition: number, epoch: number): Promise<bigint | null> {
    const rows: { next_offset: string }[] = await this.catalog
      .query(
        `SELECT next_offset FROM ${this.table('archived_offsets')} WHERE source_topic = $1 AND source_partition = $2 AND epoch = $3`,
        [topic, topicPartition, epoch],
      )
      .catch((error: unknown) => {
        throw asPostgresOutage(error);
      });
    return rows[0] ? BigInt(rows[0].next_offset) : null;
  }

  /** Uploads one file with its SHA-256, which the store verifies (multipart above 8 MiB, in parallel parts). */
  private upload(key: string, file: WrittenPartitionFile): Promise<ObjectChecksum> {
    return uploadWithChecksum(this.s3, this.bucket, key, file.path);
  }

  private async commit(
    dataset: ArchivedDataset,
    topicPartition: number,
    batchFirst: bigint,
    batchNext: bigint,
    keyed: { file: WrittenPartitionFile; key: string; checksum?: ObjectChecksum }[],
    source: ArchiveSource,
  ): Promise<void> {
    await this.catalog.transaction(async (tx) => {
      if (source.identity === null) {
        await tx.query(
          `INSERT INTO ${this.table('topic_epochs')} (source_topic, epoch, started_by) VALUES ($1, 1, 'unverified writer')
           ON CONFLICT DO NOTHING`,
          [dataset.topic],
        );
      } else {
        // the epoch must still be the topic's current one, with the identity checked for this flush
        // (an operator's decision in between makes the flush fail; its records come again)
        const [current] = (await tx.query(
          `SELECT 1 FROM ${this.table('topic_epochs')} WHERE source_topic = $1 AND epoch = $2 AND ended_at IS NULL
              AND kafka_cluster_id = $3 AND kafka_topic_id = $4 FOR SHARE`,
          [dataset.topic, source.epoch, source.identity.clusterId, source.identity.topicId],
        )) as unknown[];
        if (current === undefined) {
          throw new TopicAwaitingDecisionError(`${dataset.topic}: epoch ${source.epoch} no longer belongs to the identity this flush read`);
        }
      }
      await tx.query(
        `INSERT INTO ${this.table('datasets')} (name, source_topic, schema_version, partitioning, retention_days)
         VALUES ($1, $2, $3, 'date=YYYY-MM-DD/hour=HH', $4) ON CONFLICT (name) DO NOTHING`,
        [dataset.name, dataset.topic, dataset.schemaVersion, dataset.retentionDays],
      );
      // the dataset's version is the newest its files were written with; an UPDATE that matches no
      // row locks nothing, so concurrent commits of other partitions are not serialised on it
      await tx.query(`UPDATE ${this.table('datasets')} SET schema_version = $2 WHERE name = $1 AND schema_version < $2`, [
        dataset.name,
        dataset.schemaVersion,
      ]);
      await tx.query(
        `INSERT INTO ${this.table('archived_offsets')} (source_topic, source_partition, next_offset, epoch, first_offset,
           kafka_cluster_id, kafka_topic_id)
         VALUES ($1, $2, $3, $4, $3, $5, $6) ON CONFLICT DO NOTHING`,
        [dataset.topic, topicPartition, batchFirst.toString(), source.epoch, source.identity?.clusterId ?? null, source.identity?.topicId ?? null],
      );
      const [held] = (await tx.query(
        `SELECT next_offset FROM ${this.table('archived_offsets')}
          WHERE source_topic = $1 AND source_partition = $2 AND epoch = $3 FOR UPDATE`,
        [dataset.topic, topicPartition, source.epoch],
      )) as { next_offset: string }[];
      if (held && BigInt(held.next_offset) > batchFirst) {
        throw new ArchiveFencedError(
          `${dataset.topic}[${topicPartition}] is archived up to ${held.next_offset}; this batch starts at ${batchFirst}`,
        );
      }
      for (const { file, key, checksum } of keyed) {
        await tx.query(
          `INSERT INTO ${this.table('files')} (dataset, object_key, partition_date, partition_hour, source_topic,
             source_partition, first_offset, last_offset, row_count, byte_size, min_event_time_ns, max_event_time_ns,
             symbols, column_stats, schema_version, checksum_sha256, store_checksum, checksum_source,
             epoch, kafka_cluster_id, kafka_topic_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'commit', $18, $19, $20)`,
          [
            dataset.name,
            key,
            file.partition.date,
            file.partition.hour,
            dataset.topic,
            topicPartition,
            file.firstOffset.toString(),
            file.lastOffset.toString(),
            file.rows,
            file.bytes,
            file.minEventTimeNs.toString(),
            file.maxEventTimeNs.toString(),
            file.symbols,
            JSON.stringify(file.columnStats),
            dataset.schemaVersion,
            checksum?.sha256 ?? null,
            checksum?.storeChecksum ?? null,
            source.epoch,
            source.identity?.clusterId ?? null,
            source.identity?.topicId ?? null,
          ],
        );
      }
      await tx.query(
        `UPDATE ${this.table('archived_offsets')} SET next_offset = $3
          WHERE source_topic = $1 AND source_partition = $2 AND epoch = $4`,
        [dataset.topic, topicPartition, batchNext.toString(), source.epoch],
      );
    });
  }

  private table(name: string): string {
    return `${quoteIdentifier(this.catalogSchema)}.${name}`;
  }
}
