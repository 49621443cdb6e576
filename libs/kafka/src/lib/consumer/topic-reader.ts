import { Consumer } from '@platformatic/kafka';
import type { Logger } from 'pino';
import { applyBrokerAddress, clientOptionsOf, type KafkaConnection } from '../kafka-connection';
import type { PartitionBatch } from './managed-consumer';
import { PartitionFetcher } from './partition-fetcher';

export interface TopicReaderOptions {
  /** Every partition of these topics is read. */
  readonly topics: readonly string[];
  /**
   * Where each partition starts: its earliest record (default), its end, or an offset the
   * function gives (undefined: the earliest).
   */
  readonly from?: 'earliest' | 'latest' | ((topic: string, partition: number) => bigint | undefined);
  /** Gets each partition's records in offset order; partitions one after the other. */
  readonly handle: (batch: PartitionBatch) => Promise<void> | void;
  /** Default true: records of aborted transactions are never handed over. */
  readonly readCommitted?: boolean;
  /** How long a fetch may wait for records; default 100 ms. */
  readonly maxWaitMs?: number;
  /** Wait before a failed fetch is tried again; default 1 s. */
  readonly retryDelayMs?: number;
  readonly logger?: Logger;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reads every partition of some topics without a consumer group: nothing is committed and nothing
 * is shared with other readers, as a Java consumer with `assign()`. For state every instance
 * follows in full (rules, checkpoints of a compacted topic) and for one-off reads of a range. A
 * failed fetch is tried again after a pause; a position that fell out of the log resumes at its
 * start. The handler runs for one partition at a time.
 */
export class TopicReader {
  private readonly client: Consumer;
  private readonly fetcher: PartitionFetcher;
  private loop?: Promise<void>;
  private stopping = false;
  private failure: string | null = null;

  constructor(
    connection: KafkaConnection,
    private readonly options: TopicReaderOptions,
  ) {
    // A consumer client for its metadata, offsets and connections; it never joins a group.
    this.client = applyBrokerAddress(new Consumer({ ...clientOptionsOf(connection), groupId: `${connection.clientId}.reader` }), connection);
    this.fetcher = new PartitionFetcher(this.client, { readCommitted: options.readCommitted, maxWaitMs: options.maxWaitMs ?? 100 });
  }

  /** The last fetch failure while the reader cannot read; null while it reads. */
  get lastError(): string | null {
    return this.failure;
  }

  /**
   * Places every partition at its start and begins reading; rejects (and reads nothing) when the
   * cluster cannot tell the topics' partitions and offsets. Call once.
   */
  async start(): Promise<void> {
    const { topics } = this.options;
    const metadata = await this.client.metadata({ topics: [...topics], forceUpdate: true });
    const from = this.options.from ?? 'earliest';
    const earliest = await this.client.listOffsets({ topics: [...topics], timestamp: -2n });
    const latest = from === 'latest' ? await this.client.listOffsets({ topics: [...topics], timestamp: -1n }) : undefined;
    for (const topic of topics) {
      const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
      for (let partition = 0; partition < count; partition++) {
        const start = earliest.get(topic)?.[partition] ?? 0n;
        const chosen = typeof from === 'function' ? from(topic, partition) : latest?.get(topic)?.[partition];
        this.fetcher.assign(topic, partition, chosen !== undefined && chosen > start ? chosen : start);
      }
    }
    this.loop = this.run();
  }

  /** Reads `partition` from `offset` on; a batch fetched before is not handed over. */
  seek(topic: string, partition: number, offset: bigint): void {
    this.fetcher.seek(topic, partition, offset);
  }

  /** The next offset to read of a partition. */
  position(topic: string, partition: number): bigint | undefined {
    return this.fetcher.position(topic, partition);
  }

  /** Stops after the batch in flight and closes the connections. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await this.client.close().catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let fetched: Awaited<ReturnType<PartitionFetcher['fetch']>>;
      try {
        fetched = await this.fetcher.fetch();
        this.failure = null;
      } catch (error) {
        this.failure = error instanceof Error ? error.message : String(error);
        this.options.logger?.warn({ err: error, topics: this.options.topics }, 'reading failed; trying again');
        await sleep(this.options.retryDelayMs ?? 1_000);
        continue;
      }
      for (const failure of fetched.errors) {
        if (!failure.outOfRange) continue;
        const listed = await this.client.listOffsets({ topics: [failure.topic], timestamp: -2n }).catch(() => undefined);
        const start = listed?.get(failure.topic)?.[failure.partition];
        if (start !== undefined) this.fetcher.seek(failure.topic, failure.partition, start);
      }
      if (fetched.partitions.length === 0 && fetched.errors.length > 0) await sleep(this.options.retryDelayMs ?? 1_000);
      for (const batch of fetched.partitions) {
        if (this.stopping) return;
        // Moved since the fetch (a seek): read again from the new position.
        if (this.fetcher.position(batch.topic, batch.partition) !== batch.nextOffset || batch.records.length === 0) continue;
        try {
          await this.options.handle(batch);
        } catch (error) {
          // handed over again from its first record, after a pause
          this.fetcher.seek(batch.topic, batch.partition, batch.records[0].offset);
          this.options.logger?.warn({ err: error, topic: batch.topic, partition: batch.partition }, 'a batch failed; it is handed over again');
          await sleep(this.options.retryDelayMs ?? 1_000);
        }
      }
    }
  }
}
