import type { S3Client } from '@aws-sdk/client-s3';
import { topicSpec, type TopicSpec } from '@tributary/contracts';
import { ClusterAdmin, type KafkaConnection, TopicReader } from '@tributary/kafka';
import type { ArchivedTopic } from '../archive/archived-topics';
import {
  archiveColumnsOf,
  type ArchiveColumn,
  type ArchiveRecord,
  type ParquetPartitionWriter,
} from '../archive/parquet-partition-writer';
import type { CatalogedFile, IntegrityCatalog } from './integrity-catalog';
import { uploadWithChecksum } from './object-checksum';

/** What one repair of a dataset did. */
export interface RepairReport {
  dataset: string;
  /** Files written again from Kafka under their key, the catalog row back to `ok`. */
  repaired: {
    key: string;
    sourceTopic: string;
    partition: number;
    fromOffset: string;
    toOffset: string;
    rows: number;
  }[];
  /** Files whose records Kafka no longer has: moved to the dataset's gaps. */
  lost: {
    key: string;
    sourceTopic: string;
    partition: number;
    fromOffset: string;
    toOffset: string;
    reason: string;
  }[];
  /** Files left as they were (Kafka could not be read, the records differ from the file's): tried again next time. */
  failed: { key: string; error: string }[];
}

const EVENT_TIME_HEADER = 'event.time';
const PAGE = 100;

/**
 * Repairs a dataset's missing and corrupt files: a file whose offsets Kafka still retains (in the
 * file's epoch) is archived again from Kafka, the way the archive writes it (same writer, same
 * key, the store verifying the SHA-256) and its catalog row is restored to `ok` with its new size
 * and checksum; the others are moved to `lost_files` with their offset ranges: known gaps.
 */
export class ArchiveRepairer {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly catalog: IntegrityCatalog,
    private readonly kafka: KafkaConnection,
    private readonly writer: () => Promise<ParquetPartitionWriter>,
    private readonly archivedTopics: readonly ArchivedTopic[],
    private readonly readTimeoutMs = 60_000,
  ) {}

  async repair(dataset: string): Promise<RepairReport> {
    const report: RepairReport = { dataset, repaired: [], lost: [], failed: [] };
    const admin = new ClusterAdmin(this.kafka);
    try {
      let after = '';
      for (;;) {
        const page = await this.catalog.filesPage(dataset, after, PAGE, true);
        if (page.length === 0) break;
        after = page[page.length - 1]?.key as string;
        for (const file of page) await this.repairFile(file, admin, report);
      }
    } finally {
      await admin.close().catch(() => undefined);
    }
    return report;
  }

  private async repairFile(file: CatalogedFile, admin: ClusterAdmin, report: RepairReport): Promise<void> {
    const range = {
      key: file.key,
      sourceTopic: file.sourceTopic,
      partition: file.partition,
      fromOffset: file.firstOffset.toString(),
      toOffset: file.lastOffset.toString(),
    };
    const lose = async (reason: string) => {
      if (await this.catalog.markLost(file.key, reason)) report.lost.push({ ...range, reason });
    };
    try {
      const schema = this.schemaOf(file);
      if (schema === null) {
        await lose(
          `${file.sourceTopic} is not a Kafka topic this archive can read again (a gold dataset is rebuilt by rerunning its job)`,
        );
        return;
      }
      const epoch = await this.catalog.currentEpoch(file.sourceTopic);
      if (epoch !== null && file.epoch !== null && file.epoch !== epoch) {
        await lose(
          `the file's offsets belong to epoch ${file.epoch} of ${file.sourceTopic}; Kafka now holds epoch ${epoch}`,
        );
        return;
      }
      const offsets = (await admin.topicOffsets(file.sourceTopic, 10_000)).find(
        (p) => p.partition === file.partition,
      );
      if (offsets === undefined) {
        await lose(`Kafka has no partition ${file.partition} of ${file.sourceTopic}`);
        return;
      }
      if (file.firstOffset < BigInt(offsets.low) || file.lastOffset >= BigInt(offsets.high)) {
        await lose(
          `Kafka retains ${file.sourceTopic}[${file.partition}] offsets ${offsets.low} to ${BigInt(offsets.high) - 1n}; the file held ${file.firstOffset} to ${file.lastOffset}`,
        );
        return;
      }
      const records = await this.read(file, schema.spec);
      if (records.length !== file.rows) {
        report.failed.push({
          key: file.key,
          error: `Kafka gives ${records.length} archivable records of the range; the file held ${file.rows}`,
        });
        return;
      }
      const writer = await this.writer();
      const written = await writer.write(file.partition, schema.columns, records);
      try {
        const only = written[0];
        if (
          written.length !== 1 ||
          only === undefined ||
          only.partition.date !== file.date ||
          only.partition.hour !== file.hour
        ) {
          report.failed.push({
            key: file.key,
            error: "the records read again do not fall in the file's hour partition",
          });
          return;
        }
        const checksum = await uploadWithChecksum(this.s3, this.bucket, file.key, only.path);
        if (await this.catalog.restore(file.key, checksum.bytes, checksum.sha256, checksum.storeChecksum)) {
          report.repaired.push({ ...range, rows: only.rows });
        }
      } finally {
        await writer.discard(written);
      }
    } catch (error) {
      report.failed.push({ key: file.key, error: (error as Error).message });
    }
  }

  /** The columns and contract of the file's source topic: configured here, or a catalog topic. */
  private schemaOf(file: CatalogedFile): { spec: TopicSpec; columns: ArchiveColumn[] } | null {
    const configured = this.archivedTopics.find((t) => t.dataset.topic === file.sourceTopic);
    if (configured) return { spec: configured.spec, columns: configured.dataset.columns };
    if (file.sourceTopic.startsWith('gold:')) return null;
    const spec = topicSpec(file.sourceTopic);
    return spec ? { spec, columns: archiveColumnsOf(spec.schema) } : null;
  }

  /** The records of the file's offsets, converted as the archive's consumer converts them (records without an event time are skipped). */
  private async read(file: CatalogedFile, spec: TopicSpec): Promise<ArchiveRecord[]> {
    const records: ArchiveRecord[] = [];
    let done!: () => void;
    let fail!: (error: Error) => void;
    const finished = new Promise<void>((resolve, reject) => {
      done = resolve;
      fail = reject;
    });
    const reader = new TopicReader(this.kafka, {
      topics: [file.sourceTopic],
      from: (_topic, partition) => (partition === file.partition ? file.firstOffset : undefined),
      handle: (batch) => {
        if (batch.partition !== file.partition) return;
        for (const record of batch.records) {
          if (record.offset < file.firstOffset) continue;
          if (record.offset > file.lastOffset) break;
          if (record.value === null) continue;
          const value = JSON.parse(record.value.toString('utf8')) as Record<string, unknown>;
          const header = record.headers
            .find(([name]) => name?.toString('utf8') === EVENT_TIME_HEADER)?.[1]
            ?.toString('utf8');
          const eventTime =
            header ?? (spec.eventTime as (v: unknown) => string | number | bigint | undefined)(value);
          if (eventTime === undefined || eventTime === null || !/^-?\d+$/.test(String(eventTime))) continue;
          records.push({
            offset: record.offset,
            key: record.key?.toString('utf8') ?? null,
            eventTimeNs: BigInt(eventTime),
            value,
          });
        }
        if (batch.nextOffset > file.lastOffset) done();
      },
    });
    const timer = setTimeout(
      () =>
        fail(
          new Error(
            `reading ${file.sourceTopic}[${file.partition}] offsets ${file.firstOffset}-${file.lastOffset} took longer than ${this.readTimeoutMs} ms`,
          ),
        ),
      this.readTimeoutMs,
    );
    try {
      await reader.start();
      await finished;
    } finally {
      clearTimeout(timer);
      await reader.stop();
    }
    return records;
  }
}
