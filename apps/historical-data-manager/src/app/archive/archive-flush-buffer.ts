import type { ArchiveRecord } from './parquet-partition-writer';
import type { ArchivedDataset, ArchiveBatchResult } from './topic-archiver';

/** When a dataset's buffer is written: whichever limit is reached first. */
export interface FlushPolicy {
  maxRows: number;
  maxBytes: number;
  maxAgeMs: number;
}

/** Archives the records of one topic partition (offset order) durably: S3 object(s), then the catalog. */
export type ArchivePartition = (
  dataset: ArchivedDataset,
  topicPartition: number,
  records: ArchiveRecord[],
) => Promise<ArchiveBatchResult>;

interface HeldBatch {
  topicPartition: number;
  records: ArchiveRecord[];
  bytes: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The buffer of one dataset. A Kafka batch handed to {@link add} is held: the returned promise
 * settles only when the flush that contains its records has uploaded them and committed them to
 * the catalog, so the consumer commits the batch's offsets only for durable records. Batches of
 * every partition of the topic gather here until the rows, bytes or age limit is reached; a flush
 * writes one Parquet file per topic partition and event hour.
 */
export class DatasetArchiveBuffer {
  private held: HeldBatch[] = [];
  /** Batches of flushes under way: out of `held`, not yet committed to the catalog. */
  private readonly flushing = new Set<HeldBatch>();
  private rows = 0;
  private bytes = 0;
  private ageTimer?: NodeJS.Timeout;

  constructor(
    readonly dataset: ArchivedDataset,
    private readonly policy: FlushPolicy,
    /** Runs a flush; flushes of all datasets go through it one at a time. */
    private readonly schedule: (flush: () => Promise<void>) => Promise<void>,
    private readonly archivePartition: ArchivePartition,
  ) {}

  /** Topic partitions with a batch held now (each one blocks its partition's next fetch). */
  get heldPartitions(): number {
    return new Set(this.held.map((b) => b.topicPartition)).size;
  }

  /** Rows held now (not yet durable). */
  get heldRows(): number {
    return this.rows;
  }

  /**
   * Every record received and not yet committed to the catalog (held, or in a flush under way),
   * per topic partition: the rows a query must add to the archived files to be complete.
   */
  buffered(): { topicPartition: number; records: readonly ArchiveRecord[] }[] {
    return [...this.held, ...this.flushing].map((b) => ({ topicPartition: b.topicPartition, records: b.records }));
  }

  /** Holds `records` of one topic partition until they are durable in S3 and the catalog. */
  add(topicPartition: number, records: ArchiveRecord[], bytes: number): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.held.push({ topicPartition, records, bytes, resolve, reject });
      this.rows += records.length;
      this.bytes += bytes;
      if (this.rows >= this.policy.maxRows || this.bytes >= this.policy.maxBytes) this.flushNow();
      else this.ageTimer ??= setTimeout(() => this.flushNow(), this.policy.maxAgeMs);
    });
  }

  /** Writes what is held now (shutdown, tests). */
  flush(): Promise<void> {
    return this.flushNow();
  }

  private flushNow(): Promise<void> {
    clearTimeout(this.ageTimer);
    this.ageTimer = undefined;
    const batches = this.held;
    this.held = [];
    this.rows = 0;
    this.bytes = 0;
    if (batches.length === 0) return Promise.resolve();
    for (const batch of batches) this.flushing.add(batch);
    return this.schedule(() => this.write(batches));
  }

  private async write(batches: HeldBatch[]): Promise<void> {
    const byPartition = new Map<number, HeldBatch[]>();
    for (const batch of batches) {
      const list = byPartition.get(batch.topicPartition);
      if (list) list.push(batch);
      else byPartition.set(batch.topicPartition, [batch]);
    }
    for (const [topicPartition, held] of byPartition) {
      // a partition lost and regained in a rebalance may be held twice: one row per offset
      const records = held
        .flatMap((batch) => batch.records)
        .sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0))
        .filter((record, i, sorted) => i === 0 || record.offset !== sorted[i - 1]?.offset);
      try {
        await this.archivePartition(this.dataset, topicPartition, records);
        for (const batch of held) batch.resolve();
      } catch (error) {
        // the held batches fail: the consumer retries them, nothing of them is committed
        for (const batch of held) batch.reject(error);
      } finally {
        for (const batch of held) this.flushing.delete(batch);
      }
    }
  }
}
