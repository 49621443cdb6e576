import { HEADERS, SYMBOL_PARTITIONS, validateEvent } from '@tributary/contracts';
import {
  compressionOf,
  type ExtraHeader,
  HeaderTemplate,
  type KafkaConnection,
  KeyPartitioner,
  partitionOfKey,
  type PartitionRecords,
  RecordBatchWriter,
  TransactionalProducer,
} from '@tributary/kafka';
import type { Logger } from 'pino';
import type { CepTopics } from '../engine/cep-topics';
import {
  checkpointKey,
  claimKey,
  GLOBAL_SLOT,
  type PartitionClaim,
  type Slot,
  slotName,
} from '../engine/checkpoint';
import type { CommitUnit } from '../engine/partition-processor';

/** Partitions of the checkpoint topic: partition N's checkpoint goes to N mod this, the global slot's to 0. */
export const CHECKPOINT_PARTITIONS = SYMBOL_PARTITIONS;

/** The consumer group member whose offsets a transaction commits (KIP-447). */
export interface GroupMembership {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface TransactionalWriterOptions {
  readonly group: string;
  readonly slot: Slot;
  readonly topics: CepTopics;
  /** `service/instance`: the `producer` header. */
  readonly writer: string;
  readonly transactionTimeoutMs: number;
  readonly logger?: Logger;
}

const ZSTD = compressionOf('zstd');
const VARYING_HEADERS = [HEADERS.eventTime, HEADERS.correlationId, HEADERS.idempotencyKey];

/**
 * The transactional producer of one slot. Its transactional id is `<group>.p<N>` (`<group>.global` for
 * the global slot): stable for the slot, not for the instance, so whichever instance takes the slot next
 * fences this one (`InitProducerId` bumps the epoch and ends its open transaction) and a zombie can no
 * longer commit alerts, side outputs, a checkpoint or offsets for it. The offsets also carry the input
 * consumer's generation and member id (KIP-447): once the group has moved on, the coordinator refuses
 * them and the transaction is aborted.
 */
export class TransactionalWriter {
  private readonly producer: TransactionalProducer;
  private readonly templates = new Map<string, HeaderTemplate>();
  private readonly partitioners = new Map<string, KeyPartitioner>();

  constructor(
    connection: KafkaConnection,
    private readonly options: TransactionalWriterOptions,
  ) {
    this.producer = new TransactionalProducer(connection, {
      transactionalId: `${options.group}.${slotName(options.slot)}`,
      transactionTimeoutMs: options.transactionTimeoutMs,
      logger: options.logger,
    });
  }

  get transactionalId(): string {
    return this.producer.transactionalId;
  }

  /**
   * Fences the previous owner of the partition (its open transaction is aborted or completed first) and
   * writes a claim record the checkpoint reader waits for.
   */
  async claim(nonce: string): Promise<void> {
    await this.producer.init();
    const claim: PartitionClaim = {
      format: 2,
      kind: 'claim',
      group: this.options.group,
      partition: this.options.slot,
      writer: this.options.writer,
      nonce,
    };
    const records = new RecordBatchWriter();
    records.append(claimKey(this.options.group, this.options.slot), JSON.stringify(claim), Date.now());
    await this.producer.commit([
      { topic: this.options.topics.checkpoints, partition: this.checkpointPartition, records },
    ]);
  }

  /**
   * Writes a commit unit in one transaction: alerts, side outputs, dead letters, the checkpoint and, with
   * the input consumer's membership, the group offsets (two more round trips: the caller decides how often).
   */
  async write(unit: CommitUnit, membership: GroupMembership | null): Promise<void> {
    const topics = this.options.topics;
    const now = Date.now();
    const batches = new Map<string, PartitionRecords>();
    const batchOf = (topic: string, partition: number): RecordBatchWriter => {
      const name = `${topic}\u0000${partition}`;
      let part = batches.get(name);
      if (part === undefined) {
        part = { topic, partition, records: new RecordBatchWriter(), compression: ZSTD };
        batches.set(name, part);
      }
      return part.records;
    };

    /** Contract events of one topic, keyed, with the varying headers (event time, correlation, idempotency key) of each. */
    const appendEvents = async <T extends { key: string }>(
      topic: string,
      schemaName: string,
      events: readonly T[],
      varying: (event: T) => (string | undefined)[],
    ): Promise<void> => {
      if (events.length === 0) return;
      const template = this.template(topic, schemaName);
      const partitioner = await this.partitioner(topic);
      for (const event of events) {
        batchOf(topic, partitioner.partitionOf(event.key)).append(
          event.key,
          JSON.stringify(event),
          now,
          template,
          varying(event),
        );
      }
    };
    await appendEvents(topics.alerts, 'Alert', unit.alerts, (alert) => [
      alert.ts,
      alert.alertId,
      alert.alertId,
    ]);
    await appendEvents(topics.sideOutputs, 'CepSideOutput', unit.sideOutputs, (side) => [
      side.ts,
      `${side.rule}:${side.kind}:${side.ts}`,
      undefined,
    ]);
    for (const letter of unit.deadLetters) {
      const { key, value, headers } = letter.message;
      const extra: ExtraHeader[] = [];
      for (const [name, header] of Object.entries(headers)) {
        if (header === undefined) continue;
        for (const item of Array.isArray(header) ? header : [header]) extra.push([name, item]);
      }
      const partition =
        key === null ? 0 : partitionOfKey(key, (await this.partitioner(letter.topic)).partitions);
      batchOf(letter.topic, partition).append(key, value, now, undefined, undefined, extra);
    }
    batchOf(topics.checkpoints, this.checkpointPartition).append(
      checkpointKey(this.options.group, this.options.slot),
      unit.checkpointJson,
      now,
    );

    const offsets = Object.entries(unit.offsets).flatMap(([topic, byPartition]) =>
      Object.entries(byPartition).map(([partition, offset]) => ({
        topic,
        partition: Number(partition),
        offset: BigInt(offset),
      })),
    );
    await this.producer.commit(
      [...batches.values()],
      membership !== null && offsets.length > 0 ? { ...membership, offsets } : undefined,
    );
  }

  async close(): Promise<void> {
    await this.producer.close();
  }

  private get checkpointPartition(): number {
    return this.options.slot === GLOBAL_SLOT ? 0 : this.options.slot % CHECKPOINT_PARTITIONS;
  }

  /** The contract headers every record of a topic shares, encoded once; event time, correlation and idempotency keys vary. */
  private template(topic: string, schemaName: string): HeaderTemplate {
    let template = this.templates.get(topic);
    if (template === undefined) {
      template = new HeaderTemplate(
        {
          [HEADERS.schemaName]: schemaName,
          [HEADERS.schemaVersion]: '1',
          [HEADERS.producer]: this.options.writer,
        },
        VARYING_HEADERS,
      );
      this.templates.set(topic, template);
    }
    return template;
  }

  /** Keys placed as the Java client places them (murmur2), over the topic's partitions. */
  private async partitioner(topic: string): Promise<KeyPartitioner> {
    let partitioner = this.partitioners.get(topic);
    if (partitioner === undefined) {
      partitioner = new KeyPartitioner(await this.producer.partitionCount(topic));
      this.partitioners.set(topic, partitioner);
    }
    return partitioner;
  }
}

/** Drops (and reports) records that fail their contract, so one bad output cannot block a partition. */
export function validOutputs(
  unit: CommitUnit,
  onInvalid: (what: string, reason: string) => void,
): CommitUnit {
  const alerts = unit.alerts.filter((alert) => {
    const result = validateEvent('cep.alerts', alert);
    if (!result.ok)
      onInvalid(`alert ${alert.alertId}`, result.errors.map((e) => `${e.path} ${e.message}`).join('; '));
    return result.ok;
  });
  const sideOutputs = unit.sideOutputs.filter((side) => {
    const result = validateEvent('cep.side-outputs', side);
    if (!result.ok)
      onInvalid(`side output of ${side.rule}`, result.errors.map((e) => `${e.path} ${e.message}`).join('; '));
    return result.ok;
  });
  return { ...unit, alerts, sideOutputs };
}
