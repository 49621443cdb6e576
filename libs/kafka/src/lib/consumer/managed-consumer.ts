import { Consumer } from '@platformatic/kafka';
import type { Logger } from 'pino';
import { applyBrokerAddress, clientOptionsOf, type KafkaConnection } from '../kafka-connection';
import type { Assignment, PartitionAssignor } from './group-protocol';
import { GroupSession } from './group-session';
import { type FetchedRecord, PartitionFetcher } from './partition-fetcher';

/** The records of one partition handed to the handler, in offset order. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly FetchedRecord[];
}

export interface ManagedConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /**
   * Handles one partition's batch; the consumer commits past it once it resolves. A batch whose
   * handler throws is fetched and handed over again (after `retryDelayMs`): nothing is skipped.
   */
  readonly handle: (batch: PartitionBatch) => Promise<void>;
  /** Where a partition without a committed offset starts: its earliest record (default) or new records only. */
  readonly fromBeginning?: boolean;
  readonly sessionTimeoutMs?: number;
  readonly groupInstanceId?: string;
  readonly assignor?: PartitionAssignor;
  /** Default true: records of aborted transactions are never handed over. */
  readonly readCommitted?: boolean;
  /** How long a fetch may wait for records; default 500 ms. */
  readonly maxWaitMs?: number;
  /** Wait before a failed batch or fetch is tried again; default 1 s. */
  readonly retryDelayMs?: number;
  /**
   * Commit past each batch once its handler resolved (default). Off for processors that commit
   * behind state of their own (a join, a window) with {@link ManagedConsumer.commit}.
   */
  readonly autoCommit?: boolean;
  /** Called with each new generation's partitions, once their positions are in place. */
  readonly onAssigned?: (assignment: Assignment) => Promise<void> | void;
  /**
   * Called when partitions go (a rebalance, leaving), after the batches in flight finished and
   * before the member rejoins: the last moment to commit for them.
   */
  readonly onRevoked?: (assignment: Assignment) => Promise<void> | void;
  readonly logger?: Logger;
}

const keyOf = (topic: string, partition: number) => `${topic}:${partition}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A consumer group member that hands each partition's records to one handler in offset order and
 * commits past them once it succeeded, built from the library's parts: {@link GroupSession} (the
 * group protocol, revocation before a rebalance), {@link PartitionFetcher} (fetches per leader,
 * read_committed) and the committed offsets. Partitions are handled side by side, each in order.
 * At a rebalance the batches in flight finish and are committed before the partitions go; a
 * batch that was not committed is handed to the next owner again (at least once, never skipped).
 */
export class ManagedConsumer {
  private readonly client: Consumer;
  private readonly session: GroupSession;
  private readonly fetcher: PartitionFetcher;
  private loop?: Promise<void>;
  private round?: Promise<void>;
  private stopping = false;
  /** Set while a rebalance takes the partitions: no new round starts. */
  private held = false;

  constructor(
    connection: KafkaConnection,
    private readonly options: ManagedConsumerOptions,
  ) {
    this.client = applyBrokerAddress(
      new Consumer({ ...clientOptionsOf(connection), groupId: options.groupId }),
      connection,
    );
    this.fetcher = new PartitionFetcher(this.client, {
      readCommitted: options.readCommitted,
      maxWaitMs: options.maxWaitMs ?? 500,
    });
    this.session = new GroupSession(this.client, {
      groupId: options.groupId,
      topics: options.topics,
      sessionTimeoutMs: options.sessionTimeoutMs,
      groupInstanceId: options.groupInstanceId,
      assignor: options.assignor,
      onRevoke: (assignment) => this.revoke(assignment),
      onAssign: (assignment) => this.assign(assignment),
      onLost: (error) => options.logger?.warn({ err: error, groupId: options.groupId }, 'the consumer group membership was lost; rejoining'),
    });
  }

  /** The partitions this member owns now. */
  get assignment(): Assignment {
    return this.session.assignment;
  }

  /**
   * Joins the group and starts handing records over; resolves once the first assignment is in
   * place. While the cluster cannot be reached it keeps trying (backoff up to 5 s) until `stop`.
   */
  async start(): Promise<void> {
    this.stopping = false;
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        await this.session.join();
        break;
      } catch (error) {
        this.options.logger?.warn({ err: error, groupId: this.options.groupId, attempt }, 'joining the consumer group failed; trying again');
        await sleep(Math.min(250 * 2 ** (attempt - 1), 5_000));
      }
    }
    if (this.stopping) return;
    this.loop = this.run();
  }

  /** Finishes the batches in flight, commits them, leaves the group and closes the connections. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.loop) {
      await this.loop;
      await this.session.leave();
    }
    await this.client.close();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (this.held) {
        await sleep(50);
        continue;
      }
      this.round = this.fetchAndHandle();
      await this.round;
      this.round = undefined;
    }
  }

  /** One fetch, then every partition's batch handled (partitions side by side) and committed. */
  private async fetchAndHandle(): Promise<void> {
    // Nothing to fetch (no partitions, or all paused): wait as a fetch would, rather than spin.
    if (this.fetcher.assigned.every((partition) => partition.paused)) {
      await sleep(this.options.maxWaitMs ?? 500);
      return;
    }
    let fetched: Awaited<ReturnType<PartitionFetcher['fetch']>>;
    try {
      fetched = await this.fetcher.fetch();
    } catch (error) {
      this.options.logger?.warn({ err: error, groupId: this.options.groupId }, 'fetching failed; trying again');
      await sleep(this.options.retryDelayMs ?? 1_000);
      return;
    }
    for (const failure of fetched.errors) {
      if (!failure.outOfRange) continue;
      await this.resetToStart(failure.topic, failure.partition).catch((error: unknown) =>
        this.options.logger?.warn({ err: error, topic: failure.topic }, 'reading the start of a partition failed'),
      );
    }
    if (fetched.partitions.length === 0 && fetched.errors.length > 0) await sleep(this.options.retryDelayMs ?? 1_000);
    await Promise.all(
      fetched.partitions.map(async ({ topic, partition, records, nextOffset }) => {
        try {
          if (records.length > 0) await this.options.handle({ topic, partition, records });
          if (this.options.autoCommit !== false) await this.session.commit([{ topic, partition, offset: nextOffset }]);
        } catch (error) {
          // Handed over again from the first record of the batch, later.
          const from = records[0]?.offset;
          if (from !== undefined) this.fetcher.seek(topic, partition, from);
          this.options.logger?.warn({ err: error, topic, partition }, 'a batch failed; it is handed over again');
          await sleep(this.options.retryDelayMs ?? 1_000);
        }
      }),
    );
  }

  /**
   * Commits offsets (the next offset to read per partition) in this member's generation; for
   * consumers with `autoCommit: false`.
   */
  commit(offsets: readonly { topic: string; partition: number; offset: bigint }[]): Promise<void> {
    return this.session.commit(offsets);
  }

  /** Before a rebalance: no new rounds, the round in flight finishes (and commits), the positions go. */
  private async revoke(assignment: Assignment): Promise<void> {
    this.held = true;
    await this.round;
    await this.options.onRevoked?.(assignment);
    for (const [topic, partitions] of assignment) for (const partition of partitions) this.fetcher.revoke(topic, partition);
  }

  /** A new generation: each partition resumes at its committed offset, else at its start. */
  private async assign(assignment: Assignment): Promise<void> {
    const committed = await this.session.committed(assignment);
    const starts = this.options.fromBeginning === false ? -1n : -2n;
    const missing = [...assignment].filter(([topic, partitions]) =>
      partitions.some((partition) => committed.get(keyOf(topic, partition)) === undefined),
    );
    const listed = missing.length
      ? await this.client.listOffsets({ topics: missing.map(([topic]) => topic), timestamp: starts })
      : new Map<string, bigint[]>();
    for (const [topic, partitions] of assignment) {
      for (const partition of partitions) {
        const offset = committed.get(keyOf(topic, partition)) ?? listed.get(topic)?.[partition] ?? 0n;
        this.fetcher.assign(topic, partition, offset);
      }
    }
    await this.options.onAssigned?.(assignment);
    this.held = false;
  }

  private async resetToStart(topic: string, partition: number): Promise<void> {
    const listed = await this.client.listOffsets({ topics: [topic], timestamp: -2n });
    const earliest = listed.get(topic)?.[partition] ?? 0n;
    this.options.logger?.warn({ topic, partition, offset: String(earliest) }, 'the position was outside the log; resuming at its start');
    this.fetcher.seek(topic, partition, earliest);
  }
}
