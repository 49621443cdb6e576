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

/** Held records dropped because their partition was revoked: they are delivered again. */
export class PartitionRevokedError extends Error {
  constructor(topic: string, topicPartition: number) {
    super(`${topic}[${topicPartition}] was revoked; its buffered records are delivered again`);
  }
}

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
 * the catalog, so the consumer commits the batch's offsets only for durable records (the promise
 * goes to `KafkaBatchContext.commitWhenDurable`; the consumer fetches on meanwhile). Batches of
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

  /** Bytes of the record values received and not yet committed to the catalog (held or in a flush under way). */
  get bufferedBytes(): number {
    let bytes = this.bytes;
    for (const batch of this.flushing) bytes += batch.bytes;
    return bytes;
  }

  /** Rows received and not yet committed to the catalog (held or in a flush under way). */
  get bufferedRows(): number {
    let rows = this.rows;
    for (const batch of this.flushing) rows += batch.records.length;
    return rows;
  }

  /**
   * Forgets the held records of `topicPartitions` (revoked in a rebalance: they are delivered
   * again, here or to the partition's new owner); their promises reject. Records in a flush under
   * way are left to it: the catalog's archived offset makes a second copy skip them.
   */
  drop(topicPartitions: readonly number[]): number {
    const dropped = this.held.filter((batch) => topicPartitions.includes(batch.topicPartition));
    if (dropped.length === 0) return 0;
    this.held = this.held.filter((batch) => !topicPartitions.includes(batch.topicPartition));
    let rows = 0;
    for (const batch of dropped) {
      rows += batch.records.length;
      this.rows -= batch.records.length;
      this.bytes -= batch.bytes;
      batch.reject(new PartitionRevokedError(this.dataset.topic, batch.topicPartition));
    }
    if (this.held.length === 0) {
      clearTimeout(this.ageTimer);
      this.ageTimer = undefined;
    }
    return rows;
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
