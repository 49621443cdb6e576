import { Consumer } from '@platformatic/kafka';
import type { Logger } from 'pino';
import {
  applyBrokerAddress,
  authorizationFailureOf,
  clientOptionsOf,
  KafkaAuthorizationError,
  type KafkaConnection,
  principalOf,
  rootCauses,
} from '../kafka-connection';
import type { Assignment, PartitionAssignor } from './group-protocol';
import { type CommittedOffset, GroupSession } from './group-session';
import { type FetchedRecord, PartitionFetcher } from './partition-fetcher';
import { type PausedTopic, PauseState } from './pause-state';
import { RECONNECT_BACKOFF, retryDelayMs } from '../retry-policy';

/** The records of one partition handed to the handler, in offset order. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly FetchedRecord[];
  /** The next offset to read after this batch (past aborted records and transaction markers too). */
  readonly nextOffset: bigint;
  /** The partition's high watermark when it was fetched. */
  readonly highWatermark: bigint;
}

/**
 * Thrown by a handler that got part of a batch done: the records before `nextOffset` are
 * settled (committed with `autoCommit`), the partition is read again from `nextOffset`.
 */
export class IncompleteBatchError extends Error {
  override readonly name = 'IncompleteBatchError';

  constructor(
    readonly nextOffset: bigint,
    cause: unknown,
  ) {
    super(`the batch stopped at offset ${nextOffset}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export type ManagedConsumerStatus = 'starting' | 'group-joined' | 'rebalancing' | 'disconnected' | 'stopping' | 'stopped';

export interface ManagedConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /**
   * Handles one partition's batch; the consumer commits past it once it resolves. A batch whose
   * handler throws is fetched and handed over again (after `retryDelayMs`): nothing is skipped;
   * with {@link IncompleteBatchError} from where it stopped. `signal` aborts when the partition
   * is about to go (a rebalance, a stop): cut waits short; what is not done comes again.
   */
  readonly handle: (batch: PartitionBatch, signal: AbortSignal) => Promise<void>;
  /** Where a partition without a committed offset starts: its earliest record (default) or new records only. */
  readonly fromBeginning?: boolean;
  readonly sessionTimeoutMs?: number;
  /**
   * How long a rebalance waits for every member to rejoin (a member that died without leaving is
   * waited for this long); default 60 s. Batches must finish within it.
   */
  readonly rebalanceTimeoutMs?: number;
  readonly groupInstanceId?: string;
  readonly assignor?: PartitionAssignor;
  /** Default true: records of aborted transactions are never handed over. */
  readonly readCommitted?: boolean;
  /** How long a fetch may wait for records; default 500 ms. */
  readonly maxWaitMs?: number;
  /** Largest fetch answer per partition; default 1 MiB. */
  readonly partitionMaxBytes?: number;
  /** Largest fetch answer per leader; default 50 MiB. */
  readonly maxBytes?: number;
  /** Partitions handled at once (each in order); default all of a fetch. */
  readonly partitionsConcurrently?: number;
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
  /** Called on every status change. */
  readonly onStatus?: (status: ManagedConsumerStatus) => void;
  readonly logger?: Logger;
}

const keyOf = (topic: string, partition: number) => `${topic}:${partition}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` on every item, at most `limit` at once. */
async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  if (items.length <= limit) {
    await Promise.all(items.map(work));
    return;
  }
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

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
  private starting?: Promise<void>;
  private stopped?: Promise<void>;
  private loop?: Promise<void>;
  private round?: Promise<void>;
  private joined = false;
  private stopping = false;
  /** Set while a rebalance takes the partitions: no new round starts. */
  private held = false;
  /** Aborted when the partitions of this generation go. */
  private generation = new AbortController();
  private readonly pauses = new PauseState();
  /** Partitions held back for a while (a rewind's backoff), by key. */
  private readonly holds = new Map<string, NodeJS.Timeout>();
  private readonly lags = new Map<string, bigint>();
  private currentStatus: ManagedConsumerStatus = 'starting';
  private failure: string | null = null;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly options: ManagedConsumerOptions,
  ) {
    this.client = applyBrokerAddress(
      new Consumer({ ...clientOptionsOf(connection), groupId: options.groupId }),
      connection,
    );
    this.fetcher = new PartitionFetcher(this.client, {
      readCommitted: options.readCommitted,
      maxWaitMs: options.maxWaitMs ?? 500,
      maxBytes: options.maxBytes,
      partitionMaxBytes: options.partitionMaxBytes,
    });
    this.session = new GroupSession(this.client, {
      groupId: options.groupId,
      topics: options.topics,
      sessionTimeoutMs: options.sessionTimeoutMs,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs,
      groupInstanceId: options.groupInstanceId,
      assignor: options.assignor,
      onRevoke: (assignment) => this.revoke(assignment),
      onAssign: (assignment) => this.assign(assignment),
      onLost: (error) => {
        this.failure = error.message;
        this.setStatus('rebalancing');
        options.logger?.warn({ err: error, groupId: options.groupId }, 'the consumer group membership was lost; rejoining');
      },
    });
  }

  /** The partitions this member owns now. */
  get assignment(): Assignment {
    return this.session.assignment;
  }

  /**
   * The member's group, generation and member id, as a transaction's offsets carry them (KIP-447):
   * the coordinator refuses those offsets once this generation is over.
   */
  get membership(): { readonly groupId: string; readonly generationId: number; readonly memberId: string; readonly groupInstanceId: string | null } {
    return { groupId: this.options.groupId, ...this.session.generation, groupInstanceId: this.options.groupInstanceId ?? null };
  }

  get status(): ManagedConsumerStatus {
    return this.currentStatus;
  }

  /** Why the consumer is not consuming, if it is not: the last failure to join or fetch. */
  get lastError(): string | null {
    return this.failure;
  }

  /** Records between the position and the high watermark, summed over the partitions fetched so far; null before. */
  get lag(): number | null {
    if (this.lags.size === 0) return null;
    let total = 0n;
    for (const lag of this.lags.values()) total += lag;
    return Number(total);
  }

  /**
   * Stops fetching `topic` (or some of its partitions) until {@link resume}, e.g. while a store
   * the handler writes to is down; batches in flight still finish. Holds across rebalances.
   */
  pause(topic: string, partitions?: readonly number[]): void {
    this.pauses.pause(topic, partitions);
    this.applyPauses();
  }

  resume(topic: string, partitions?: readonly number[]): void {
    this.pauses.resume(topic, partitions);
    this.applyPauses();
  }

  /** What the application paused. */
  paused(): PausedTopic[] {
    return this.pauses.list();
  }

  /**
   * Reads `partition` again from `offset`, after `afterMs` (the partition is not fetched
   * meanwhile). For records whose processing failed after their batch was handed over.
   */
  rewind(topic: string, partition: number, offset: bigint, afterMs = 0): void {
    const key = keyOf(topic, partition);
    if (this.fetcher.position(topic, partition) === undefined) return; // not ours any more
    this.fetcher.seek(topic, partition, offset);
    clearTimeout(this.holds.get(key));
    const timer = setTimeout(() => {
      this.holds.delete(key);
      this.applyPauses();
    }, afterMs);
    timer.unref();
    this.holds.set(key, timer);
    this.applyPauses();
  }

  private applyPauses(): void {
    for (const { topic, partition } of this.fetcher.assigned) {
      if (this.pauses.isPaused(topic, partition) || this.holds.has(keyOf(topic, partition))) this.fetcher.pause(topic, partition);
      else this.fetcher.resume(topic, partition);
    }
  }

  private setStatus(status: ManagedConsumerStatus): void {
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this.options.onStatus?.(status);
  }

  /**
   * Joins the group and starts handing records over; resolves once the first assignment is in
   * place. While the cluster cannot be reached it keeps trying (backoff up to 5 s) until `stop`.
   */
  async start(): Promise<void> {
    this.starting ??= this.join();
    await this.starting;
  }

  private refusedWhat(failure: string): string {
    return failure === 'GROUP_AUTHORIZATION_FAILED'
      ? `join consumer group ${this.options.groupId}`
      : `read topic${this.options.topics.length === 1 ? '' : 's'} ${this.options.topics.join(', ')} in consumer group ${this.options.groupId}`;
  }

  private async join(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        await this.session.join();
        this.joined = true;
        break;
      } catch (error) {
        // A refused group or topic is said with the principal and what it lacks; it is tried again
        // too, as an operator may grant the ACL while the service runs.
        const refused = authorizationFailureOf(error);
        this.failure =
          refused === undefined
            ? rootCauses(error).join('; ')
            : new KafkaAuthorizationError(principalOf(this.connection), this.refusedWhat(refused), refused, error).message;
        this.setStatus('disconnected');
        this.options.logger?.warn({ err: error, groupId: this.options.groupId, attempt, reason: this.failure }, 'joining the consumer group failed; trying again');
        await sleep(retryDelayMs(RECONNECT_BACKOFF, attempt));
      }
    }
    if (this.joined && !this.stopping) this.loop = this.run();
  }

  /**
   * Stops fetching, finishes the batches in flight (retry waits are cut short) and commits them,
   * leaves the group and closes the connections. A consumer stopped while it is still trying to
   * join gives up joining.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutDown();
    return this.stopped;
  }

  private async shutDown(): Promise<void> {
    this.setStatus('stopping');
    this.stopping = true;
    this.generation.abort();
    for (const timer of this.holds.values()) clearTimeout(timer);
    await this.starting;
    await this.loop;
    if (this.joined) await this.session.leave();
    await this.client.close();
    this.setStatus('stopped');
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
      this.failure = rootCauses(error).join('; ');
      this.setStatus('disconnected');
      this.options.logger?.warn({ err: error, groupId: this.options.groupId }, 'fetching failed; trying again');
      await sleep(this.options.retryDelayMs ?? 1_000);
      return;
    }
    if (this.currentStatus === 'disconnected') this.setStatus('group-joined');
    for (const failure of fetched.errors) {
      if (!failure.outOfRange) continue;
      await this.resetToStart(failure.topic, failure.partition).catch((error: unknown) =>
        this.options.logger?.warn({ err: error, topic: failure.topic }, 'reading the start of a partition failed'),
      );
    }
    if (fetched.partitions.length === 0 && fetched.errors.length > 0) await sleep(this.options.retryDelayMs ?? 1_000);
    for (const { topic, partition, highWatermark, nextOffset } of fetched.partitions) {
      this.lags.set(keyOf(topic, partition), highWatermark > nextOffset ? highWatermark - nextOffset : 0n);
    }
    const signal = this.generation.signal;
    await forEachLimited(fetched.partitions, this.options.partitionsConcurrently ?? Infinity, (batch) => this.handleBatch(batch, signal));
  }

  private async handleBatch(batch: PartitionBatch, signal: AbortSignal): Promise<void> {
    const { topic, partition, records, nextOffset } = batch;
    const autoCommit = this.options.autoCommit !== false;
    // Moved since it was fetched (a seek, a rewind, revoked): it is read again from the new position.
    if (this.fetcher.position(topic, partition) !== nextOffset) return;
    try {
      if (records.length > 0) await this.options.handle(batch, signal);
      if (autoCommit) await this.session.commit([{ topic, partition, offset: nextOffset }]);
    } catch (error) {
      // Handed over again from the first record not done, later.
      const from = error instanceof IncompleteBatchError ? error.nextOffset : records[0]?.offset;
      if (from !== undefined) this.fetcher.seek(topic, partition, from);
      if (autoCommit && error instanceof IncompleteBatchError && records[0] !== undefined && from !== undefined && from > records[0].offset) {
        await this.session.commit([{ topic, partition, offset: from }]).catch(() => undefined);
      }
      if (signal.aborted) return; // the partition goes: nothing to wait for
      this.options.logger?.warn({ err: error, topic, partition }, 'a batch failed; it is handed over again');
      await sleep(this.options.retryDelayMs ?? 1_000);
    }
  }

  /**
   * Commits offsets (the next offset to read per partition) in this member's generation; for
   * consumers with `autoCommit: false`.
   */
  commit(offsets: readonly CommittedOffset[]): Promise<void> {
    return this.session.commit(offsets);
  }

  /** The group's committed offsets of the partitions, with their metadata, keyed `topic:partition`. */
  committed(assignment: Assignment): Promise<Map<string, { offset: bigint | undefined; metadata: string | null }>> {
    return this.session.committedEntries(assignment);
  }

  /** Where the partition will be read next, if this member owns it. */
  position(topic: string, partition: number): bigint | undefined {
    return this.fetcher.position(topic, partition);
  }

  /** Before a rebalance: no new rounds, the round in flight finishes (and commits), the positions go. */
  private async revoke(assignment: Assignment): Promise<void> {
    this.held = true;
    this.setStatus(this.stopping ? 'stopping' : 'rebalancing');
    this.generation.abort();
    await this.round;
    await this.options.onRevoked?.(assignment);
    for (const [topic, partitions] of assignment) {
      for (const partition of partitions) {
        this.fetcher.revoke(topic, partition);
        this.lags.delete(keyOf(topic, partition));
        clearTimeout(this.holds.get(keyOf(topic, partition)));
        this.holds.delete(keyOf(topic, partition));
      }
    }
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
    this.applyPauses();
    this.generation = new AbortController();
    if (this.stopping) this.generation.abort();
    await this.options.onAssigned?.(assignment);
    this.failure = null;
    this.held = false;
    if (!this.stopping) this.setStatus('group-joined');
  }

  private async resetToStart(topic: string, partition: number): Promise<void> {
    const listed = await this.client.listOffsets({ topics: [topic], timestamp: -2n });
    const earliest = listed.get(topic)?.[partition] ?? 0n;
    this.options.logger?.warn({ topic, partition, offset: String(earliest) }, 'the position was outside the log; resuming at its start');
    this.fetcher.seek(topic, partition, earliest);
  }
}
