import { type Producer, ProtocolError } from '@platformatic/kafka';
import type { CompressionAlgorithmValue } from '@platformatic/kafka';
import { authorizationFailureOf, isPermanentConnectionError, KafkaAuthorizationError, rootCauses } from '../kafka-connection';
import { type PartitionOutcome, sendProduce } from './produce-request';
import type { RecordBatchWriter } from './record-batch';

/** Records of one partition, written, waiting to be sent. */
export interface PartitionRecords {
  readonly topic: string;
  readonly partition: number;
  readonly records: RecordBatchWriter;
  readonly compression?: CompressionAlgorithmValue;
}

/** Where one partition's records went. */
export interface PartitionWritten {
  readonly topic: string;
  readonly partition: number;
  readonly baseOffset: bigint;
  readonly count: number;
}

export interface BatchProducerOptions {
  /** acks=all unless told otherwise: a record counts as written once every in-sync replica has it. */
  readonly acks?: -1 | 1;
  /** How long a leader may wait for its replicas, per request; default 30 s. */
  readonly requestTimeoutMs?: number;
  /**
   * How long a send keeps trying batches the brokers refuse with a retriable error, or cannot be
   * reached for, before it fails (Java's delivery.timeout.ms); default 30 s. Refused credentials
   * and untrusted certificates fail at once.
   */
  readonly deliveryTimeoutMs?: number;
  readonly onRetry?: (failure: { topic: string; partition: number; error: string; attempt: number }) => void;
  /** The principal the brokers see (`User:<name>`), named when they refuse a topic to it. */
  readonly principal?: string;
  /**
   * Batches of a transaction: written with the transactional flag under the producer id and epoch
   * the transaction coordinator gave (`identity`), never a new one of our own. A batch refused for
   * good fails the send; the caller aborts the transaction.
   */
  readonly transactional?: {
    readonly transactionalId: string;
    readonly identity: () => ProducerIdentity;
  };
}

/** A producer id and epoch (InitProducerId). */
export interface ProducerIdentity {
  readonly producerId: bigint;
  readonly producerEpoch: number;
}

const DUPLICATE_SEQUENCE_NUMBER = 46;
/** The broker lost or never had this producer's state: a new producer id starts the sequences over. */
const PRODUCER_STATE_LOST = new Set([
  'UNKNOWN_PRODUCER_ID',
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
]);

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** A Kafka error for a partition, with what the client knows about it. */
export class PartitionWriteError extends Error {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly apiId: string,
    message: string,
  ) {
    super(`${topic}[${partition}]: ${message}`);
    this.name = 'PartitionWriteError';
  }
}

/**
 * Sends record batches written by {@link RecordBatchWriter} as an idempotent producer: the client
 * (@platformatic/kafka) provides the metadata, the connections and the producer id; this class
 * numbers each partition's batches, groups them per leader into one Produce request each, and
 * retries exactly the batches a leader refused with a retriable error, with the same bytes and
 * sequence numbers, so the broker keeps each record once. Sends run one after another: the next
 * one's batches are numbered only after the previous one is written, so a retry can never be
 * overtaken by a later batch of its partition.
 */
export class BatchProducer {
  private producer?: ProducerIdentity;
  private readonly sequences = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: Producer,
    private readonly options: BatchProducerOptions = {},
  ) {}

  /**
   * Reaches the cluster and obtains a producer id now, rather than on the first send; rejects when
   * no broker answers.
   */
  async connect(): Promise<void> {
    if (this.options.transactional === undefined) this.producer ??= await this.client.initIdempotentProducer({});
  }

  /** Numbers the next batches from zero: the producer got a new id or epoch. */
  resetSequences(): void {
    this.sequences.clear();
  }

  /** Partitions of a topic, from the client's metadata (cached by the client, refreshed on errors). */
  async partitionCount(topic: string, fresh = false): Promise<number> {
    const metadata = await this.client.metadata({ topics: [topic], forceUpdate: fresh });
    const known = metadata.topics.get(topic);
    if (!known) throw new Error(`topic ${topic} has no metadata`);
    return known.partitionsCount;
  }

  /**
   * Writes the partitions' records, each partition's records as one batch; resolves once all are
   * acknowledged. The writers must keep their records until then (a batch may be written again).
   */
  send(parts: readonly PartitionRecords[]): Promise<PartitionWritten[]> {
    const sent = this.queue.then(() => this.sendNow(parts));
    this.queue = sent.catch(() => undefined);
    return sent;
  }

  private async sendNow(parts: readonly PartitionRecords[]): Promise<PartitionWritten[]> {
    if (parts.length === 0) return [];
    const deadline = Date.now() + (this.options.deliveryTimeoutMs ?? 30_000);
    let pending = await this.encodeBefore(parts, deadline);
    const written: PartitionWritten[] = [];
    for (let attempt = 1; pending.length > 0; attempt++) {
      const failed = await this.sendToLeaders(pending, written);
      if (failed.length === 0) break;
      const lost = failed.find((failure) => PRODUCER_STATE_LOST.has(failure.error.apiId));
      const fatal = failed.find((failure) => !failure.retriable);
      const delay = backoffMs(attempt);
      if ((fatal && !lost) || (lost && this.options.transactional) || Date.now() + delay >= deadline) {
        // The partitions' sequences now have a gap the broker would refuse: the next send starts
        // over with a new producer id.
        this.producer = undefined;
        this.sequences.clear();
        const chosen = (this.options.transactional ? (lost ?? fatal) : (fatal ?? lost)) ?? failed[0];
        const refused = authorizationFailureOf(chosen.error);
        if (refused === undefined) throw chosen.error;
        throw new KafkaAuthorizationError(this.options.principal ?? 'the client', `write topic ${chosen.part.topic}`, refused, chosen.error);
      }
      for (const failure of failed) {
        this.options.onRetry?.({
          topic: failure.part.topic,
          partition: failure.part.partition,
          error: failure.error.message,
          attempt,
        });
      }
      await sleep(delay);
      if (failed.some((failure) => failure.staleMetadata)) this.client.clearMetadata();
      // Lost producer state (the broker expired it, or an earlier batch of this producer failed for
      // good): a new producer id, and the unwritten batches numbered again from zero.
      if (lost) {
        this.producer = undefined;
        this.sequences.clear();
        pending = await this.encodeBefore(
          failed.map((failure) => failure.part),
          deadline,
        );
      } else {
        pending = failed.map((failure) => failure.encoded);
      }
    }
    return written;
  }

  /** {@link encode}, trying again while no broker can be reached (for a producer id) until the deadline. */
  private async encodeBefore(parts: readonly PartitionRecords[], deadline: number): Promise<Encoded[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.encode(parts);
      } catch (error) {
        const delay = backoffMs(attempt);
        if (isPermanentConnectionError(error) || Date.now() + delay >= deadline) throw error;
        await sleep(delay);
      }
    }
  }

  private async encode(parts: readonly PartitionRecords[]): Promise<Encoded[]> {
    const transactional = this.options.transactional;
    const { producerId, producerEpoch } = transactional ? transactional.identity() : (this.producer ??= await this.client.initIdempotentProducer({}));
    return parts.map((part) => {
      const partitionKey = key(part.topic, part.partition);
      const baseSequence = this.sequences.get(partitionKey) ?? 0;
      const count = part.records.recordCount;
      // Sequences wrap at 2^31 as in the Java client.
      this.sequences.set(partitionKey, (baseSequence + count) % 0x80000000);
      const batch = part.records.finish({
        producerId,
        producerEpoch,
        baseSequence,
        compression: part.compression,
        transactional: transactional !== undefined,
      });
      return { part, batch, count };
    });
  }

  /** One request per leader, all at once; returns the batches that failed. */
  private async sendToLeaders(pending: readonly Encoded[], written: PartitionWritten[]): Promise<Failure[]> {
    const topics = [...new Set(pending.map((encoded) => encoded.part.topic))];
    let metadata: Awaited<ReturnType<Producer['metadata']>>;
    try {
      metadata = await this.client.metadata({ topics });
    } catch (error) {
      // No broker answers (or the topics are unknown for now): every batch goes again, unchanged;
      // a topic the principal may not see fails the send.
      const retriable = !isPermanentConnectionError(error);
      return pending.map((encoded) => ({ ...failure(encoded, error as Error), retriable, staleMetadata: true }));
    }
    const byLeader = new Map<number, Encoded[]>();
    for (const encoded of pending) {
      const leader =
        metadata.topics.get(encoded.part.topic)?.partitions[encoded.part.partition]?.leader ?? -1;
      const list = byLeader.get(leader);
      if (list) list.push(encoded);
      else byLeader.set(leader, [encoded]);
    }
    const failed: Failure[] = [];
    await Promise.all(
      [...byLeader].map(async ([leader, batches]) => {
        const broker = metadata.brokers.get(leader);
        if (!broker) {
          for (const encoded of batches)
            failed.push(failure(encoded, new ProtocolError('LEADER_NOT_AVAILABLE')));
          return;
        }
        let outcomes: PartitionOutcome[];
        try {
          const connection = await this.client.connections.get(broker);
          outcomes = await sendProduce(connection, {
            transactionalId: this.options.transactional?.transactionalId ?? null,
            acks: this.options.acks ?? -1,
            timeoutMs: this.options.requestTimeoutMs ?? 30_000,
            batches: batches.map(({ part, batch }) => ({
              topic: part.topic,
              partition: part.partition,
              batch,
            })),
          });
        } catch (error) {
          // Nothing is known about these batches: they go again with the same sequence numbers.
          for (const encoded of batches)
            failed.push({ ...failure(encoded, error as Error), retriable: true, staleMetadata: true });
          return;
        }
        const byPartition = new Map(
          outcomes.map((outcome) => [key(outcome.topic, outcome.partition), outcome]),
        );
        for (const encoded of batches) {
          const outcome = byPartition.get(key(encoded.part.topic, encoded.part.partition));
          if (outcome && (outcome.errorCode === 0 || outcome.errorCode === DUPLICATE_SEQUENCE_NUMBER)) {
            written.push({
              topic: encoded.part.topic,
              partition: encoded.part.partition,
              baseOffset: outcome.baseOffset,
              count: encoded.count,
            });
          } else {
            const error = outcome
              ? new ProtocolError(outcome.errorCode, outcome.errorMessage)
              : new ProtocolError('UNKNOWN_SERVER_ERROR', 'no answer for the partition');
            failed.push(failure(encoded, error));
          }
        }
      }),
    );
    return failed;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** 100 ms, doubling to at most 1 s, between two attempts (of a batch, or of a producer's metadata). */
export function backoffMs(attempt: number): number {
  return Math.min(100 * 2 ** (attempt - 1), 1_000);
}

interface Encoded {
  readonly part: PartitionRecords;
  readonly batch: Buffer;
  readonly count: number;
}

interface Failure {
  readonly part: PartitionRecords;
  readonly encoded: Encoded;
  readonly error: PartitionWriteError;
  readonly retriable: boolean;
  readonly staleMetadata: boolean;
}

function failure(encoded: Encoded, error: Error): Failure {
  const protocol = error as Error & { apiId?: string; canRetry?: boolean; hasStaleMetadata?: boolean };
  const apiId = protocol.apiId ?? 'NETWORK';
  return {
    part: encoded.part,
    encoded,
    error: new PartitionWriteError(encoded.part.topic, encoded.part.partition, apiId, rootCauses(error).join('; ')),
    retriable: protocol.canRetry === true,
    staleMetadata: protocol.hasStaleMetadata === true,
  };
}
