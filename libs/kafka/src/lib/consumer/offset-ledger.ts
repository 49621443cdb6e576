import type { Logger } from 'pino';

/** An offset to commit: the next record to read of a partition. */
export interface LedgerOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

/** A range of records the ledger committed. */
export interface CommittedRange {
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly records: number;
}

/** Partitions of one topic whose uncommitted records are delivered again. */
export interface RevokedPartitions {
  readonly topic: string;
  readonly partitions: number[];
}

export interface OffsetLedgerOptions {
  /** Commits offsets in the member's current generation. */
  readonly commit: (offsets: readonly LedgerOffset[]) => Promise<void>;
  /**
   * A range could not be made durable: every uncommitted record of the partition, from `from`
   * on, must be read again. `attempt` counts such rewinds in a row (for a backoff); it starts
   * over once a range of the partition becomes durable.
   */
  readonly rewind: (topic: string, partition: number, from: bigint, attempt: number) => void;
  /** After ranges were committed. */
  readonly committed?: (range: CommittedRange) => void;
  /** After uncommitted ranges were dropped: the application forgets what it holds of them. */
  readonly revoked?: (revoked: RevokedPartitions[], why: string) => void;
  /** Wait before a failed commit is tried again; default 1 s. */
  readonly commitRetryMs?: number;
  readonly logger?: Logger;
}

interface Range {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  /** The offset to commit once this range and every earlier one of the partition is durable. */
  readonly next: bigint;
  readonly records: number;
  durable: boolean;
  /** Resolves (never rejects) once the range's durability promises settled. */
  readonly settled: Promise<unknown>;
}

interface PartitionLedger {
  readonly topic: string;
  readonly partition: number;
  readonly ranges: Range[];
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * The offsets of records a handler has taken but not yet made durable (the archive buffers
 * records until a Parquet file is written). Each batch is a range with the promises that say it
 * is durable; a partition is committed up to the end of its longest run of durable ranges from
 * the oldest, so a commit never passes a record that is not durable, while the partition keeps
 * being fetched. A range whose promise rejects makes the partition read again from its first
 * uncommitted record. Ranges of partitions the member gives up are dropped (and reported), never
 * committed late.
 */
export class OffsetLedger {
  private readonly partitions = new Map<string, PartitionLedger>();
  private readonly rewinds = new Map<string, number>();
  private commits: Promise<void> = Promise.resolve();
  private scheduled = false;
  private retry?: NodeJS.Timeout;

  constructor(private readonly options: OffsetLedgerOptions) {}

  /** Records `firstOffset..lastOffset` (`records` of them), committable up to `next` once `durables` resolve. */
  add(
    topic: string,
    partition: number,
    range: { firstOffset: bigint; lastOffset: bigint; next: bigint; records: number },
    durables: readonly Promise<unknown>[],
  ): void {
    const key = keyOf(topic, partition);
    let owner = this.partitions.get(key);
    if (owner === undefined) {
      owner = { topic, partition, ranges: [] };
      this.partitions.set(key, owner);
    }
    const ledger = owner;
    const all = Promise.all(durables);
    const entry: Range = { ...range, durable: false, settled: all.catch(() => undefined) };
    ledger.ranges.push(entry);
    all.then(
      () => {
        if (this.partitions.get(key) !== ledger) return; // revoked meanwhile: the records come again
        this.rewinds.delete(key);
        entry.durable = true;
        this.schedule();
      },
      (error: unknown) => {
        if (this.partitions.get(key) !== ledger) return;
        const from = ledger.ranges[0]?.firstOffset ?? entry.firstOffset;
        this.options.logger?.error(
          { err: error, topic, partition, firstOffset: String(from) },
          'records were not made durable; reading the partition again from its first uncommitted record',
        );
        this.drop([key], 'records were not made durable');
        const attempt = (this.rewinds.get(key) ?? 0) + 1;
        this.rewinds.set(key, attempt);
        this.options.rewind(topic, partition, from, attempt);
      },
    );
  }

  /** Uncommitted ranges, over every partition. */
  get pending(): number {
    let count = 0;
    for (const ledger of this.partitions.values()) count += ledger.ranges.length;
    return count;
  }

  /**
   * The member gives these partitions up (a rebalance, leaving): what is durable now is
   * committed, the rest is dropped and reported, to be read again by the next owner.
   */
  async revoke(partitions: Iterable<{ topic: string; partition: number }>, why: string): Promise<void> {
    const keys = [...partitions].map(({ topic, partition }) => keyOf(topic, partition));
    await new Promise((resolve) => setImmediate(resolve)); // promises settled by now have marked their ranges
    await this.commitNow();
    this.drop(keys, why);
  }

  /**
   * Before leaving: waits until every range's durability promises settled (the application
   * flushes what it holds), then commits what became durable. Bounded by the caller.
   */
  async settle(): Promise<void> {
    const pending = [...this.partitions.values()].flatMap((ledger) => ledger.ranges.map((range) => range.settled));
    await Promise.all(pending);
    await new Promise((resolve) => setImmediate(resolve));
    await this.commitNow();
  }

  /** Forgets everything (after the member left). */
  clear(): void {
    clearTimeout(this.retry);
    this.partitions.clear();
    this.rewinds.clear();
  }

  /** Commits what is durable now, after any commit under way. */
  private commitNow(): Promise<void> {
    this.commits = this.commits.then(() => this.commitDurable());
    return this.commits;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // one commit request for everything that became durable in the same turn
    setImmediate(() => {
      this.scheduled = false;
      void this.commitNow();
    });
  }

  private async commitDurable(): Promise<void> {
    const commits: { ledger: PartitionLedger; count: number }[] = [];
    for (const ledger of this.partitions.values()) {
      let count = 0;
      while (count < ledger.ranges.length && ledger.ranges[count].durable) count++;
      if (count > 0) commits.push({ ledger, count });
    }
    if (commits.length === 0) return;
    const offsets = commits.map(({ ledger, count }) => ({
      topic: ledger.topic,
      partition: ledger.partition,
      offset: ledger.ranges[count - 1].next,
    }));
    try {
      await this.options.commit(offsets);
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'could not commit durable offsets; trying again');
      clearTimeout(this.retry);
      this.retry = setTimeout(() => this.schedule(), this.options.commitRetryMs ?? 1_000);
      this.retry.unref();
      return;
    }
    for (const { ledger, count } of commits) {
      // Dropped while committing: its ranges went with it (committing them was still right: they are durable).
      if (this.partitions.get(keyOf(ledger.topic, ledger.partition)) !== ledger) continue;
      for (const range of ledger.ranges.splice(0, count)) {
        this.options.committed?.({
          topic: ledger.topic,
          partition: ledger.partition,
          firstOffset: range.firstOffset,
          lastOffset: range.lastOffset,
          records: range.records,
        });
      }
    }
  }

  private drop(keys: readonly string[], why: string): void {
    const byTopic = new Map<string, number[]>();
    for (const key of keys) {
      const ledger = this.partitions.get(key);
      if (ledger === undefined) continue;
      this.partitions.delete(key);
      if (ledger.ranges.length === 0) continue;
      const list = byTopic.get(ledger.topic);
      if (list) list.push(ledger.partition);
      else byTopic.set(ledger.topic, [ledger.partition]);
    }
    if (byTopic.size === 0) return;
    const revoked = [...byTopic].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }));
    this.options.logger?.info({ revoked, why }, 'uncommitted records of deferred-commit partitions will be delivered again');
    this.options.revoked?.(revoked, why);
  }
}
