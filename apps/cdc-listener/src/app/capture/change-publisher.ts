import { CATALOG, type ChangeEvent, changeEventTopic, type TopicSpec, type TransactionBoundary } from '@tributary/contracts';
import type { OutgoingRecord, TypedProducer } from '@tributary/kafka';
import type { CapturedChange, CapturedTransaction, TransactionChunk, TransactionHeader } from './transaction-assembler';

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
    const runs = new Map<ReturnType<typeof changeEventTopic>, OutgoingRecord<ChangeEvent.Value>[]>();
    for (const change of changes) {
      const spec = this.topicOf(change.schema, change.table, change.primaryKey);
      let run = runs.get(spec);
      if (!run) {
        run = [];
        runs.set(spec, run);
      }
      run.push({
        value: change.value,
        key: spec.key(change.value),
        correlationId: stringOr(change.value.after?.['correlation_id']),
        idempotencyKey: change.idempotencyKey,
      });
    }
    return Promise.all([...runs].map(([spec, run]) => this.producer.sendTo(spec, run))).then(() => undefined);
  }

  /** A chunk of a large transaction, ahead of its commit: BEGIN first when it is the first chunk. */
  publishChunk(chunk: TransactionChunk): Promise<void> {
    const sends: Promise<void>[] = [];
    const headers = contextHeaders(chunk.transaction);
    if (chunk.first) sends.push(this.boundary(chunk.transaction, chunk.transaction.begin, 'BEGIN', headers));
    this.changes(chunk.transaction, chunk.changes, headers, sends);
    return Promise.all(sends).then(() => undefined);
  }

  /**
   * A committed transaction: BEGIN (unless a chunk carried it), the changes not yet sent, END.
   * Resolves once the brokers acknowledged all of them.
   */
  publish(transaction: CapturedTransaction): Promise<void> {
    const sends: Promise<void>[] = [];
    const headers = contextHeaders(transaction);
    if (transaction.chunkedChanges === 0) sends.push(this.boundary(transaction, transaction.begin, 'BEGIN', headers));
    this.changes(transaction, transaction.changes, headers, sends);
    sends.push(this.boundary(transaction, transaction.end, 'END', headers));
    return Promise.all(sends).then(() => undefined);
  }

  private boundary(
    transaction: TransactionHeader,
    value: TransactionBoundary.Value,
    status: 'BEGIN' | 'END',
    headers: Record<string, string>,
  ): Promise<void> {
    return this.producer.sendTo(this.transactionSpec, [
      {
        value,
        correlationId: transaction.context.correlationId,
        idempotencyKey: `${transaction.commitLsn}:${status}`,
        headers,
      },
    ]);
  }

  /**
   * The changes, one produce call per run of records of a table (the producer keeps the order of
   * calls per partition); a delete's tombstone follows it directly, so a re-insert of the same key
   * later in the transaction stays after the tombstone.
   */
  private changes(
    transaction: TransactionHeader,
    changes: readonly CapturedChange[],
    headers: Record<string, string>,
    sends: Promise<void>[],
  ): void {
    const correlationId = transaction.context.correlationId;
    const runs = new Map<ReturnType<typeof changeEventTopic>, OutgoingRecord<ChangeEvent.Value>[]>();
    for (const change of changes) {
      const spec = this.topicOf(change.schema, change.table, change.primaryKey);
      const key = spec.key(change.value);
      const rowCorrelation =
        correlationId ?? stringOr(change.value.after?.['correlation_id'] ?? change.value.before?.['correlation_id']);
      let run = runs.get(spec);
      if (!run) {
        run = [];
        runs.set(spec, run);
      }
      run.push({ value: change.value, key, correlationId: rowCorrelation, idempotencyKey: change.idempotencyKey, headers });
      if (change.value.op === 'd' && this.options.tombstonesOnDelete) {
        sends.push(this.producer.sendTo(spec, run));
        runs.delete(spec);
        sends.push(
          this.producer.sendRaw(
            spec.topic,
            [{ key, value: null, headers: { 'idempotency.key': `${change.idempotencyKey}:tombstone` } }],
            spec.compression,
          ),
        );
      }
    }
    for (const [spec, run] of runs) sends.push(this.producer.sendTo(spec, run));
  }
}

function contextHeaders(transaction: TransactionHeader): Record<string, string> {
  return transaction.context.changedBy ? { 'changed.by': transaction.context.changedBy } : {};
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
