import { CompressionTypes, type Kafka, type Message, type Producer } from 'kafkajs';
import { type Alert, type CepSideOutput, HEADERS, SYMBOL_PARTITIONS, validateEvent } from '@tributary/contracts';
import { KAFKA_CLIENT_RETRY } from '@tributary/kafka';
import type { CepTopics } from '../engine/cep-topics';
import { checkpointKey, claimKey, GLOBAL_SLOT, type PartitionClaim, type Slot, slotName } from '../engine/checkpoint';
import type { CommitUnit } from '../engine/partition-processor';

/** Partitions of the checkpoint topic: partition N's checkpoint goes to N mod this, the global slot's to 0. */
export const CHECKPOINT_PARTITIONS = SYMBOL_PARTITIONS;

/** kafkajs errors meaning another producer with our transactional id took over: this one is a zombie. */
const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'INVALID_PRODUCER_ID_MAPPING']);

export function isFenced(error: unknown): boolean {
  for (let cause = error as { type?: string; cause?: unknown; originalError?: unknown } | undefined; cause; ) {
    if (cause.type !== undefined && FENCED.has(cause.type)) return true;
    cause = (cause.cause ?? cause.originalError) as typeof cause;
  }
  return false;
}

export interface TransactionalWriterOptions {
  readonly group: string;
  readonly slot: Slot;
  readonly topics: CepTopics;
  /** `service/instance`: the `producer` header. */
  readonly writer: string;
  readonly transactionTimeoutMs: number;
}

/**
 * The transactional producer of one slot. Its transactional id is `<group>.p<N>` (`<group>.global` for
 * the global slot): stable for the slot, not for the instance, so whichever instance takes the slot next
 * fences this one (`InitProducerId` bumps the epoch and ends its open transaction) and a zombie can no
 * longer commit alerts, side outputs, a checkpoint or offsets for it. kafkajs sends no consumer-group
 * generation with the offsets (KIP-447), so fencing per slot is what keeps a paused old owner out.
 */
export class TransactionalWriter {
  private readonly producer: Producer;
  private connected = false;

  constructor(
    kafka: Kafka,
    private readonly options: TransactionalWriterOptions,
  ) {
    this.producer = kafka.producer({
      transactionalId: `${options.group}.${slotName(options.slot)}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: options.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      retry: { ...KAFKA_CLIENT_RETRY, retries: 5 },
    });
  }

  get transactionalId(): string {
    return `${this.options.group}.${slotName(this.options.slot)}`;
  }

  /**
   * Fences the previous owner of the partition (its open transaction is aborted or completed first) and
   * writes a claim record the checkpoint reader waits for.
   */
  async claim(nonce: string): Promise<void> {
    await this.connect();
    const claim: PartitionClaim = { format: 2, kind: 'claim', group: this.options.group, partition: this.options.slot, writer: this.options.writer, nonce };
    const transaction = await this.producer.transaction();
    try {
      await transaction.send({
        topic: this.options.topics.checkpoints,
        acks: -1,
        messages: [{ key: claimKey(this.options.group, this.options.slot), value: JSON.stringify(claim), partition: this.checkpointPartition }],
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Writes a commit unit in one transaction: alerts, side outputs, dead letters, the checkpoint and, with
   * a consumer group id, the group offsets (two more round trips: the caller decides how often).
   */
  async write(unit: CommitUnit, consumerGroupId: string | null): Promise<void> {
    await this.connect();
    const topics = this.options.topics;
    const topicMessages: { topic: string; messages: Message[] }[] = [];
    if (unit.alerts.length > 0) topicMessages.push({ topic: topics.alerts, messages: unit.alerts.map((alert) => this.alertMessage(alert)) });
    if (unit.sideOutputs.length > 0) topicMessages.push({ topic: topics.sideOutputs, messages: unit.sideOutputs.map((side) => this.sideMessage(side)) });
    const dlq = new Map<string, Message[]>();
    for (const letter of unit.deadLetters) dlq.set(letter.topic, [...(dlq.get(letter.topic) ?? []), letter.message]);
    for (const [topic, messages] of dlq) topicMessages.push({ topic, messages });
    topicMessages.push({
      topic: topics.checkpoints,
      messages: [{ key: checkpointKey(this.options.group, this.options.slot), value: unit.checkpointJson, partition: this.checkpointPartition }],
    });
    const offsets = Object.entries(unit.offsets).map(([topic, byPartition]) => ({
      topic,
      partitions: Object.entries(byPartition).map(([partition, offset]) => ({ partition: Number(partition), offset })),
    }));

    const transaction = await this.producer.transaction();
    try {
      await transaction.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.ZSTD });
      if (consumerGroupId !== null && offsets.length > 0) await transaction.sendOffsets({ consumerGroupId, topics: offsets });
      await transaction.commit();
    } catch (error) {
      if (!isFenced(error)) await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect().catch(() => undefined);
  }

  private get checkpointPartition(): number {
    return this.options.slot === GLOBAL_SLOT ? 0 : this.options.slot % CHECKPOINT_PARTITIONS;
  }

  private async connect(): Promise<void> {
    if (this.connected) return;
    await this.producer.connect();
    this.connected = true;
  }

  private alertMessage(alert: Alert.Value): Message {
    return {
      key: alert.key,
      value: JSON.stringify(alert),
      headers: {
        [HEADERS.schemaName]: 'Alert',
        [HEADERS.schemaVersion]: '1',
        [HEADERS.eventTime]: alert.ts,
        [HEADERS.producer]: this.options.writer,
        [HEADERS.correlationId]: alert.alertId,
        [HEADERS.idempotencyKey]: alert.alertId,
      },
    };
  }

  private sideMessage(side: CepSideOutput.Value): Message {
    return {
      key: side.key,
      value: JSON.stringify(side),
      headers: {
        [HEADERS.schemaName]: 'CepSideOutput',
        [HEADERS.schemaVersion]: '1',
        [HEADERS.eventTime]: side.ts,
        [HEADERS.producer]: this.options.writer,
        [HEADERS.correlationId]: `${side.rule}:${side.kind}:${side.ts}`,
      },
    };
  }
}

/** Drops (and reports) records that fail their contract, so one bad output cannot block a partition. */
export function validOutputs(unit: CommitUnit, onInvalid: (what: string, reason: string) => void): CommitUnit {
  const alerts = unit.alerts.filter((alert) => {
    const result = validateEvent('cep.alerts', alert);
    if (!result.ok) onInvalid(`alert ${alert.alertId}`, result.errors.map((e) => `${e.path} ${e.message}`).join('; '));
    return result.ok;
  });
  const sideOutputs = unit.sideOutputs.filter((side) => {
    const result = validateEvent('cep.side-outputs', side);
    if (!result.ok) onInvalid(`side output of ${side.rule}`, result.errors.map((e) => `${e.path} ${e.message}`).join('; '));
    return result.ok;
  });
  return { ...unit, alerts, sideOutputs };
}
