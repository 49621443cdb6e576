import { CATALOG, changeEventTopic, type TopicSpec } from '@tributary/contracts';
import type { TypedProducer } from '@tributary/kafka';
import type { CapturedChange, CapturedTransaction } from './transaction-assembler';

export interface ChangePublisherOptions {
  readonly topicPrefix: string;
  readonly transactionTopic: string;
  readonly tombstonesOnDelete: boolean;
}

/**
 * Writes one captured transaction to Kafka: BEGIN on the transaction topic, each change on its
 * table's topic (keyed by the primary key, `idempotency.key` = commit LSN : order in transaction,
 * a tombstone after each delete when configured), then END. Resolves once the brokers acknowledged
 * every record (acks=all, idempotent producer); records of later calls never overtake these in a
 * partition.
 */
export class ChangePublisher {
  private readonly tableTopics = new Map<string, ReturnType<typeof changeEventTopic>>();
  readonly transactionSpec: TopicSpec<(typeof CATALOG)['cdc.transactions']['schema']>;

  constructor(
    private readonly producer: TypedProducer,
    private readonly options: ChangePublisherOptions,
  ) {
    this.transactionSpec = Object.freeze({ ...CATALOG['cdc.transactions'], topic: options.transactionTopic });
  }

  topicOf(schema: string, table: string, primaryKey: readonly string[]): ReturnType<typeof changeEventTopic> {
    const name = `${schema}.${table}:${primaryKey.join(',')}`;
    let spec = this.tableTopics.get(name);
    if (!spec) {
      spec = changeEventTopic(this.options.topicPrefix, schema, table, primaryKey);
      this.tableTopics.set(name, spec);
    }
    return spec;
  }

  /** Snapshot reads (`op: r`) to their tables' topics; they belong to no transaction, so no BEGIN/END. */
  publishSnapshot(changes: readonly CapturedChange[]): Promise<void> {
    const sends = changes.map((change) => {
      const spec = this.topicOf(change.schema, change.table, change.primaryKey);
      return this.producer.sendTo(spec, [
        {
          value: change.value,
          key: spec.key(change.value),
          correlationId: stringOr(change.value.after?.['correlation_id']),
          idempotencyKey: change.idempotencyKey,
        },
      ]);
    });
    return Promise.all(sends).then(() => undefined);
  }

  publish(transaction: CapturedTransaction): Promise<void> {
    const correlationId = transaction.context.correlationId;
    const headers: Record<string, string> = {};
    if (transaction.context.changedBy) headers['changed.by'] = transaction.context.changedBy;
    const sends: Promise<void>[] = [
      this.producer.sendTo(this.transactionSpec, [
        { value: transaction.begin, correlationId, idempotencyKey: `${transaction.commitLsn}:BEGIN`, headers },
      ]),
    ];
    for (const change of transaction.changes) {
      const spec = this.topicOf(change.schema, change.table, change.primaryKey);
      const key = spec.key(change.value);
      const rowCorrelation =
        correlationId ?? stringOr(change.value.after?.['correlation_id'] ?? change.value.before?.['correlation_id']);
      sends.push(
        this.producer.sendTo(spec, [
          { value: change.value, key, correlationId: rowCorrelation, idempotencyKey: change.idempotencyKey, headers },
        ]),
      );
      if (change.value.op === 'd' && this.options.tombstonesOnDelete) {
        sends.push(
          this.producer.sendRaw(
            spec.topic,
            [{ key, value: null, headers: { 'idempotency.key': `${change.idempotencyKey}:tombstone` } }],
            spec.compression,
          ),
        );
      }
    }
    sends.push(
      this.producer.sendTo(this.transactionSpec, [
        { value: transaction.end, correlationId, idempotencyKey: `${transaction.commitLsn}:END`, headers },
      ]),
    );
    return Promise.all(sends).then(() => undefined);
  }
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
