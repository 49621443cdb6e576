import {
  addOffsetsToTxnV3,
  addPartitionsToTxnV3,
  type Connection,
  endTxnV3,
  findCoordinatorV4,
  initProducerIdV4,
  Producer,
  txnOffsetCommitV3,
} from '@platformatic/kafka';
import type { Logger } from 'pino';
import { COORDINATOR_MOVED, KAFKA_ERRORS, kafkaErrorName } from '../error-codes';
import { applyBrokerAddress, clientOptionsOf, type KafkaConnection, principalOf } from '../kafka-connection';
import { callApi } from '../protocol-call';
import {
  backoffMs,
  BatchProducer,
  type PartitionRecords,
  type PartitionWritten,
  PartitionWriteError,
  type ProducerIdentity,
} from './batch-producer';

/** The coordinator moved, is loading, or is busy finishing this producer's previous transaction: ask again. */
const RETRIABLE = new Set<number>([
  KAFKA_ERRORS.REQUEST_TIMED_OUT,
  KAFKA_ERRORS.COORDINATOR_LOAD_IN_PROGRESS,
  KAFKA_ERRORS.COORDINATOR_NOT_AVAILABLE,
  KAFKA_ERRORS.NOT_COORDINATOR,
  KAFKA_ERRORS.CONCURRENT_TRANSACTIONS,
]);
/** Another producer with this transactional id took over (or this one may no longer use it). */
const PRODUCER_FENCED = new Set<number>([
  KAFKA_ERRORS.INVALID_PRODUCER_EPOCH,
  KAFKA_ERRORS.PRODUCER_FENCED,
  KAFKA_ERRORS.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  KAFKA_ERRORS.INVALID_PRODUCER_ID_MAPPING,
]);
/** The consumer-group generation of the offsets is over (KIP-447): the input partitions went to another member. */
const GROUP_FENCED = new Set<number>([
  KAFKA_ERRORS.ILLEGAL_GENERATION,
  KAFKA_ERRORS.UNKNOWN_MEMBER_ID,
  KAFKA_ERRORS.FENCED_INSTANCE_ID,
  KAFKA_ERRORS.REBALANCE_IN_PROGRESS,
]);
const PRODUCER_FENCED_NAMES = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'INVALID_PRODUCER_ID_MAPPING',
]);

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

/** A transaction request answered with a Kafka error code that retrying does not cure. */
export class TransactionError extends Error {
  constructor(
    readonly operation: string,
    readonly errorCode: number,
  ) {
    super(`${operation} failed: ${kafkaErrorName(errorCode)}`);
    this.name = 'TransactionError';
  }
}

/**
 * This producer may no longer write for its transactional id: a newer producer with the same id
 * took over (it bumped the epoch), or the offsets' consumer generation is over (KIP-447). Nothing
 * of the transaction was committed; the owner of the input is someone else now.
 */
export class TransactionFencedError extends Error {
  constructor(
    readonly reason: 'producer' | 'group',
    message: string,
  ) {
    super(message);
    this.name = 'TransactionFencedError';
  }
}

/** True for a {@link TransactionFencedError}, also when it is the cause of another error. */
export function isTransactionFenced(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof TransactionFencedError) return true;
  }
  return false;
}

/** The consumer offsets a transaction commits, with the consumer's group membership (KIP-447). */
export interface TransactionOffsets {
  readonly groupId: string;
  /** The member's generation and id: the group coordinator refuses the offsets once either is stale. */
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId?: string | null;
  /** Next offset to read per partition. */
  readonly offsets: readonly {
    readonly topic: string;
    readonly partition: number;
    readonly offset: bigint;
    readonly metadata?: string | null;
  }[];
}

export interface TransactionalProducerOptions {
  /** Stable per unit of work (not per process): a new producer with the same id fences the old one. */
  readonly transactionalId: string;
  /** How long the coordinator lets a transaction stay open before aborting it; default 60 s. */
  readonly transactionTimeoutMs?: number;
  /** How long a leader may wait for its replicas, per request; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** How long one transaction keeps trying retriable failures before it aborts; default 30 s. */
  readonly deliveryTimeoutMs?: number;
  readonly logger?: Logger;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A Kafka transactional producer: each {@link commit} writes record batches to any partitions and,
 * optionally, a consumer group's offsets, atomically: a read_committed consumer sees all of it or
 * nothing, and the offsets count only if the records do.
 *
 * The protocol, as the Java producer speaks it (KIP-98, KIP-447):
 * `InitProducerId` with the transactional id at the transaction coordinator (fences any older
 * producer of the id and ends its open transaction), then per transaction `AddPartitionsToTxn`,
 * `Produce` of transactional batches (sequence numbers per partition, as the idempotent producer),
 * `AddOffsetsToTxn` + `TxnOffsetCommit` at the group coordinator with the consumer's generation and
 * member id, and `EndTxn`. The coordinators are looked up once and asked again only when they
 * move. A failed transaction is aborted; a fenced producer refuses every later call.
 */
export class TransactionalProducer {
  private readonly client: Producer;
  private readonly batches: BatchProducer;
  private identity?: ProducerIdentity;
  private readonly coordinators = new Map<string, Connection>();
  private fenced?: TransactionFencedError;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    connection: KafkaConnection,
    private readonly options: TransactionalProducerOptions,
  ) {
    this.client = applyBrokerAddress(
      new Producer({
        ...clientOptionsOf(connection),
        clientId: `${connection.clientId}.${options.transactionalId}`,
      }),
      connection,
    );
    this.batches = new BatchProducer(this.client, {
      principal: principalOf(connection),
      acks: -1,
      requestTimeoutMs: options.requestTimeoutMs,
      deliveryTimeoutMs: options.deliveryTimeoutMs,
      transactional: {
        transactionalId: options.transactionalId,
        identity: () => {
          if (this.identity === undefined) throw new Error('the transactional producer is not initialised');
          return this.identity;
        },
      },
    });
  }

  get transactionalId(): string {
    return this.options.transactionalId;
  }

  /** Partitions of a topic, from the client's metadata. */
  partitionCount(topic: string): Promise<number> {
    return this.batches.partitionCount(topic);
  }

  /**
   * Takes the transactional id over: the coordinator ends the open transaction of any earlier
   * producer of the id (committing it if it was committing, aborting it otherwise) and gives this
   * one a higher epoch, so the earlier one can write nothing more. Called by the first commit when
   * not called before.
   */
  init(): Promise<void> {
    return this.serial(() => this.initNow());
  }

  /**
   * One transaction: the partitions' records and (optionally) the group's offsets, committed
   * together. Resolves with where each partition's batch went once the commit is durable; rejects
   * after aborting it (nothing of it is visible), or with a {@link TransactionFencedError}.
   */
  commit(parts: readonly PartitionRecords[], offsets?: TransactionOffsets): Promise<PartitionWritten[]> {
    return this.serial(() => this.commitNow(parts, offsets));
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.client.close().catch(() => undefined);
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async initNow(): Promise<void> {
    if (this.fenced) throw this.fenced;
    const deadline = this.deadline();
    const response = await this.ask<initProducerIdV4.InitProducerIdResponse>(
      'InitProducerId',
      KEY_TYPE_TRANSACTION,
      this.options.transactionalId,
      deadline,
      (response) => response.errorCode,
      initProducerIdV4.api,
      this.options.transactionalId,
      this.options.transactionTimeoutMs ?? 60_000,
      -1n,
      -1,
    );
    this.identity = { producerId: response.producerId, producerEpoch: response.producerEpoch };
    this.batches.resetSequences();
    this.options.logger?.debug(
      {
        transactionalId: this.options.transactionalId,
        ...this.identity,
        producerId: String(response.producerId),
      },
      'transactional producer initialised',
    );
  }

  private async commitNow(
    parts: readonly PartitionRecords[],
    offsets?: TransactionOffsets,
  ): Promise<PartitionWritten[]> {
    if (this.fenced) throw this.fenced;
    if (this.identity === undefined) await this.initNow();
    const deadline = this.deadline();
    let started = false;
    try {
      const partitions = new Map<string, Set<number>>();
      for (const part of parts) {
        const set = partitions.get(part.topic) ?? new Set<number>();
        set.add(part.partition);
        partitions.set(part.topic, set);
      }
      if (partitions.size > 0) {
        started = true;
        await this.addPartitions(partitions, deadline);
      }
      const written = parts.length > 0 ? await this.batches.send(parts) : [];
      if (offsets !== undefined && offsets.offsets.length > 0) {
        started = true;
        await this.addOffsets(offsets, deadline);
      }
      if (started) await this.endTransaction(true, deadline);
      return written;
    } catch (error) {
      const fenced = this.fencingOf(error);
      if (fenced?.reason === 'producer') {
        this.fenced = fenced;
        throw fenced;
      }
      if (started) await this.abortAfter(error);
      throw fenced ?? error;
    }
  }

  /** Aborts the transaction after a failure; when even that fails, the next commit starts with a new epoch (InitProducerId aborts it). */
  private async abortAfter(cause: unknown): Promise<void> {
    try {
      await this.endTransaction(false, this.deadline());
    } catch (error) {
      if (this.fencingOf(error)?.reason === 'producer') {
        this.fenced = this.fencingOf(error);
        return;
      }
      this.options.logger?.warn(
        { err: error, cause: String(cause), transactionalId: this.options.transactionalId },
        'could not abort the transaction; the next one starts with a new epoch',
      );
      this.identity = undefined;
    }
  }

  private async addPartitions(
    partitions: ReadonlyMap<string, ReadonlySet<number>>,
    deadline: number,
  ): Promise<void> {
    const { producerId, producerEpoch } = this.current();
    await this.ask<addPartitionsToTxnV3.AddPartitionsToTxnResponse>(
      'AddPartitionsToTxn',
      KEY_TYPE_TRANSACTION,
      this.options.transactionalId,
      deadline,
      (response) => {
        // The partition that failed carries the reason; the others say OPERATION_NOT_ATTEMPTED.
        const codes = response.resultsByTransaction.flatMap((transaction) =>
          transaction.topicResults.flatMap((topic) =>
            topic.resultsByPartition.map((partition) => partition.partitionErrorCode),
          ),
        );
        return (
          codes.find((code) => code !== 0 && code !== KAFKA_ERRORS.OPERATION_NOT_ATTEMPTED) ??
          codes.find((code) => code !== 0) ??
          response.errorCode
        );
      },
      addPartitionsToTxnV3.api,
      [
        {
          transactionalId: this.options.transactionalId,
          producerId,
          producerEpoch,
          verifyOnly: false,
          topics: [...partitions].map(([name, set]) => ({ name, partitions: [...set] })),
        },
      ],
    );
  }

  private async addOffsets(offsets: TransactionOffsets, deadline: number): Promise<void> {
    const { producerId, producerEpoch } = this.current();
    await this.ask<addOffsetsToTxnV3.AddOffsetsToTxnResponse>(
      'AddOffsetsToTxn',
      KEY_TYPE_TRANSACTION,
      this.options.transactionalId,
      deadline,
      (response) => response.errorCode,
      addOffsetsToTxnV3.api,
      this.options.transactionalId,
      producerId,
      producerEpoch,
      offsets.groupId,
    );
    const byTopic = new Map<string, txnOffsetCommitV3.TxnOffsetCommitRequestPartition[]>();
    for (const { topic, partition, offset, metadata } of offsets.offsets) {
      const list = byTopic.get(topic) ?? [];
      list.push({
        partitionIndex: partition,
        committedOffset: offset,
        committedLeaderEpoch: -1,
        committedMetadata: metadata ?? null,
      });
      byTopic.set(topic, list);
    }
    await this.ask<txnOffsetCommitV3.TxnOffsetCommitResponse>(
      'TxnOffsetCommit',
      KEY_TYPE_GROUP,
      offsets.groupId,
      deadline,
      (response) =>
        response.topics
          .flatMap((topic) => topic.partitions.map((partition) => partition.errorCode))
          .find((code) => code !== 0) ?? 0,
      txnOffsetCommitV3.api,
      this.options.transactionalId,
      offsets.groupId,
      producerId,
      producerEpoch,
      offsets.generationId,
      offsets.memberId,
      offsets.groupInstanceId ?? null,
      [...byTopic].map(([name, partitions]) => ({ name, partitions })),
    );
  }

  private async endTransaction(commit: boolean, deadline: number): Promise<void> {
    const { producerId, producerEpoch } = this.current();
    await this.ask<endTxnV3.EndTxnResponse>(
      commit ? 'EndTxn(commit)' : 'EndTxn(abort)',
      KEY_TYPE_TRANSACTION,
      this.options.transactionalId,
      deadline,
      (response) => response.errorCode,
      endTxnV3.api,
      this.options.transactionalId,
      producerId,
      producerEpoch,
      commit,
    );
  }

  private current(): ProducerIdentity {
    if (this.identity === undefined) throw new Error('the transactional producer is not initialised');
    return this.identity;
  }

  private deadline(): number {
    return Date.now() + (this.options.deliveryTimeoutMs ?? 30_000);
  }

  /**
   * Sends a request to the coordinator of `key` until it answers without a retriable error code
   * (or the deadline passes); a lost connection is asked again too. Throws a fencing error or a
   * {@link TransactionError} for any other code.
   */
  private async ask<R>(
    operation: string,
    keyType: number,
    key: string,
    deadline: number,
    codeOf: (response: R) => number,
    api: unknown,
    ...args: unknown[]
  ): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      let code: number;
      let failure: unknown;
      let response: R | undefined;
      try {
        const connection = await this.coordinator(keyType, key);
        response = await callApi<R>(connection, api, ...args);
        code = codeOf(response);
      } catch (error) {
        this.coordinators.delete(`${keyType}:${key}`);
        code = -1;
        failure = error;
      }
      if (code === 0 && response !== undefined) return response;
      if (PRODUCER_FENCED.has(code))
        throw new TransactionFencedError(
          'producer',
          `${operation}: another producer took transactional id ${this.options.transactionalId} over (${kafkaErrorName(code)})`,
        );
      if (keyType === KEY_TYPE_GROUP && GROUP_FENCED.has(code)) {
        throw new TransactionFencedError(
          'group',
          `${operation}: the consumer generation of group ${key} is over (${kafkaErrorName(code)})`,
        );
      }
      if (code !== -1 && !RETRIABLE.has(code)) throw new TransactionError(operation, code);
      if (COORDINATOR_MOVED.has(code)) this.coordinators.delete(`${keyType}:${key}`);
      // CONCURRENT_TRANSACTIONS: the previous transaction is still being completed; it is quick.
      const delay =
        code === KAFKA_ERRORS.CONCURRENT_TRANSACTIONS ? Math.min(20 * attempt, 200) : backoffMs(attempt);
      if (Date.now() + delay >= deadline) {
        throw failure instanceof Error
          ? new Error(`${operation} failed: ${failure.message}`, { cause: failure })
          : new TransactionError(operation, code);
      }
      await sleep(delay);
    }
  }

  /** The connection to the coordinator of a transactional id or group, found once and kept until it moves. */
  private async coordinator(keyType: number, key: string): Promise<Connection> {
    const cacheKey = `${keyType}:${key}`;
    const known = this.coordinators.get(cacheKey);
    if (known) return known;
    const metadata = await this.client.metadata({ topics: [] });
    const any = metadata.brokers.values().next().value;
    if (any === undefined) throw new Error('the cluster metadata lists no broker');
    const found = await callApi<findCoordinatorV4.FindCoordinatorResponse>(
      await this.client.connections.get(any),
      findCoordinatorV4.api,
      keyType,
      [key],
    );
    const entry = found.coordinators.find((coordinator) => coordinator.key === key) ?? found.coordinators[0];
    if (entry === undefined || entry.errorCode !== 0) {
      throw new Error(`no coordinator for ${key}: ${entry ? kafkaErrorName(entry.errorCode) : 'no answer'}`);
    }
    const broker =
      metadata.brokers.get(entry.nodeId) ??
      (await this.client.metadata({ topics: [], forceUpdate: true })).brokers.get(entry.nodeId);
    if (broker === undefined)
      throw new Error(`the coordinator of ${key} (broker ${entry.nodeId}) is not in the metadata`);
    const connection = await this.client.connections.get(broker);
    this.coordinators.set(cacheKey, connection);
    return connection;
  }

  /** The fencing an error stands for, if any. */
  private fencingOf(error: unknown): TransactionFencedError | undefined {
    if (error instanceof TransactionFencedError) return error;
    if (error instanceof PartitionWriteError && PRODUCER_FENCED_NAMES.has(error.apiId)) {
      return new TransactionFencedError(
        'producer',
        `another producer took transactional id ${this.options.transactionalId} over (${error.message})`,
      );
    }
    return undefined;
  }
}
