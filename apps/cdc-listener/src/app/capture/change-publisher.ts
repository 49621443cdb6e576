import {
  CATALOG,
  changeEventTopic,
  HEADERS,
  nanosFromMicros,
  type TopicSpec,
  type TransactionBoundary,
  validateEvent,
  ValidationError,
} from '@tributary/contracts';
import type { EncodedRecord, TypedProducer } from '@tributary/kafka';
import { currentCorrelationId, newCorrelationId } from '@tributary/observability';
import type { CapturedChange, CapturedTransaction, TransactionChunk, TransactionHeader } from './transaction-assembler';

export interface ChangePublisherOptions {
  readonly topicPrefix: string;
  readonly transactionTopic: string;
  readonly tombstonesOnDelete: boolean;
  /** Check every change event against its topic's schema before sending (KAFKA_VALIDATE_EVENTS); default off. */
  readonly validate?: boolean;
}

type ChangeTopic = ReturnType<typeof changeEventTopic>;

/** What the records of one produce call share. */
interface RecordContext {
  /** `correlation.id` of a record whose transaction and row name none. */
  readonly fallbackCorrelationId: string;
  readonly correlationId: string | undefined;
  readonly changedBy: string | undefined;
  /** `event.time`: the commit time (null for snapshot reads, which take it from each value). */
  readonly eventTime: string | null;
}

/**
 * Writes one captured transaction to Kafka: BEGIN on the transaction topic, each change on its
 * table's topic (keyed by the primary key, `idempotency.key` = commit LSN : order in transaction,
 * a tombstone after each delete when configured), then END. Resolves once the brokers acknowledged
 * every record (acks=all, idempotent producer); records of later calls never overtake these in a
 * partition.
 *
 * Change records go out as the assembler wrote them: the envelope's JSON is the record value as
 * is (serialised once, shared with the audit trail), with the headers the typed producer writes
 * (`schema.*`, `event.time`, `producer`, `correlation.id`, `idempotency.key`, plus `changed.by`).
 */
export class ChangePublisher {
  private readonly tableTopics = new Map<string, ChangeTopic>();
  readonly transactionSpec: TopicSpec<(typeof CATALOG)['cdc.transactions']['schema']>;

  constructor(
    private readonly producer: TypedProducer,
    private readonly options: ChangePublisherOptions,
  ) {
    this.transactionSpec = Object.freeze({ ...CATALOG['cdc.transactions'], topic: options.transactionTopic });
  }

  topicOf(schema: string, table: string, primaryKey: readonly string[]): ChangeTopic {
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
    const context: RecordContext = {
      fallbackCorrelationId: currentCorrelationId() ?? newCorrelationId(),
      correlationId: undefined,
      changedBy: undefined,
      eventTime: null,
    };
    const runs = new Map<ChangeTopic, EncodedRecord[]>();
    try {
      for (const change of changes) {
        const spec = this.topicOf(change.schema, change.table, change.primaryKey);
        let run = runs.get(spec);
        if (!run) {
          run = [];
          runs.set(spec, run);
        }
        run.push(this.record(spec, change, context));
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.all([...runs].map(([spec, run]) => this.send(spec, run))).then(() => undefined);
  }

  /** A chunk of a large transaction, ahead of its commit: BEGIN first when it is the first chunk. */
  publishChunk(chunk: TransactionChunk): Promise<void> {
    const sends: Promise<void>[] = [];
    const headers = contextHeaders(chunk.transaction);
    if (chunk.first) sends.push(this.boundary(chunk.transaction, chunk.transaction.begin, 'BEGIN', headers));
    try {
      this.changes(chunk.transaction, chunk.changes, sends);
    } catch (error) {
      sends.push(Promise.reject(error));
    }
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
    try {
      this.changes(transaction, transaction.changes, sends);
    } catch (error) {
      sends.push(Promise.reject(error));
    }
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
  private changes(transaction: TransactionHeader, changes: readonly CapturedChange[], sends: Promise<void>[]): void {
    const context: RecordContext = {
      fallbackCorrelationId: currentCorrelationId() ?? newCorrelationId(),
      correlationId: transaction.context.correlationId,
      changedBy: transaction.context.changedBy,
      eventTime: nanosFromMicros(transaction.commitTimeMicros),
    };
    const runs = new Map<ChangeTopic, EncodedRecord[]>();
    for (const change of changes) {
      const spec = this.topicOf(change.schema, change.table, change.primaryKey);
      let run = runs.get(spec);
      if (!run) {
        run = [];
        runs.set(spec, run);
      }
      const record = this.record(spec, change, context);
      run.push(record);
      if ((change.encoded?.op ?? change.value.op) === 'd' && this.options.tombstonesOnDelete) {
        sends.push(this.send(spec, run));
        runs.delete(spec);
        sends.push(
          this.producer.sendRaw(
            spec.topic,
            [{ key: record.key, value: null, headers: { [HEADERS.idempotencyKey]: `${change.idempotencyKey}:tombstone` } }],
            spec.compression,
          ),
        );
      }
    }
    for (const [spec, run] of runs) sends.push(this.send(spec, run));
  }

  /** One change record: the encoded JSON of a streamed change, else the value serialised here. */
  private record(spec: ChangeTopic, change: CapturedChange, context: RecordContext): EncodedRecord {
    const encoded = change.encoded;
    if (this.options.validate) {
      const result = validateEvent(spec, change.value);
      if (!result.ok) throw new ValidationError(result.errors, spec.topic);
    }
    let correlationId = context.correlationId;
    if (correlationId === undefined) {
      if (encoded) correlationId = encoded.rowCorrelationId;
      else {
        const { after, before } = change.value;
        correlationId = stringOr(after?.['correlation_id'] ?? before?.['correlation_id']);
      }
    }
    return {
      key: encoded ? encoded.key : spec.key(change.value),
      value: encoded ? encoded.json : JSON.stringify(change.value),
      eventTime: context.eventTime ?? spec.eventTime(change.value),
      correlationId: correlationId ?? context.fallbackCorrelationId,
      idempotencyKey: change.idempotencyKey,
      headers: context.changedBy === undefined ? undefined : { 'changed.by': context.changedBy },
    };
  }

  private send(spec: ChangeTopic, records: readonly EncodedRecord[]): Promise<void> {
    return this.producer.sendEncoded(spec, records);
  }
}

function contextHeaders(transaction: TransactionHeader): Record<string, string> {
  return transaction.context.changedBy ? { 'changed.by': transaction.context.changedBy } : {};
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
