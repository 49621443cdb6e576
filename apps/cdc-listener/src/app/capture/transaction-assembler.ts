import type { ChangeEvent, TransactionBoundary } from '@tributary/contracts';
import { columnValue, UNAVAILABLE_VALUE } from './column-values';
import { POSTGRES_EPOCH_MICROS, type PgOutputMessage, type Relation, type TupleValue } from './pgoutput';

/** Prefix of the logical decoding message a writer emits to attach its request to a transaction. */
export const TRANSACTION_CONTEXT_PREFIX = 'tributary.context';

export interface TransactionContext {
  readonly correlationId?: string;
  readonly changedBy?: string;
}

export interface CapturedChange {
  readonly schema: string;
  readonly table: string;
  readonly primaryKey: readonly string[];
  readonly value: ChangeEvent.Value;
  /** Dedup key: `<commit LSN>:<total_order>`, the same when the change is delivered again. */
  readonly idempotencyKey: string;
}

export interface CapturedTransaction {
  readonly id: string;
  readonly xid: number;
  /** Start of the commit record. */
  readonly commitLsn: bigint;
  /** End of the commit record: the position to confirm once the transaction is in Kafka. */
  readonly endLsn: bigint;
  readonly commitTimeMicros: number;
  readonly context: TransactionContext;
  readonly changes: readonly CapturedChange[];
  readonly begin: TransactionBoundary.Value;
  readonly end: TransactionBoundary.Value;
}

export interface AssemblerOptions {
  /** Topic prefix, also `source.name`. */
  readonly serverName: string;
  readonly database: string;
  readonly version: string;
  /** Primary key columns of a table (`schema.table`); default: the replica identity columns. */
  readonly primaryKeyOf?: (schema: string, table: string) => readonly string[] | undefined;
  readonly now?: () => number;
}

interface OpenTransaction {
  xid: number;
  finalLsn: bigint;
  commitTimeMicros: bigint;
  lastCommitLsn: bigint | null;
  pending: { relation: Relation; op: ChangeEvent.Operation; before: ChangeEvent.Row | null; after: ChangeEvent.Row | null; lsn: bigint }[];
  context: TransactionContext;
}

function microsOf(pgMicros: bigint): number {
  return Number(pgMicros + POSTGRES_EPOCH_MICROS);
}

/**
 * Turns the pgoutput messages of one replication stream into whole transactions of Debezium
 * change events. Keeps the relations (schema of each table as last announced, so an
 * `ALTER TABLE ... ADD COLUMN` shows in the next event) and the transaction being received.
 */
export class TransactionAssembler {
  private readonly relations = new Map<number, Relation>();
  private open: OpenTransaction | null = null;
  private lastCommitLsn: bigint | null = null;

  constructor(private readonly options: AssemblerOptions) {}

  /** A transaction is being received (its changes are not complete yet). */
  get inTransaction(): boolean {
    return this.open !== null;
  }

  /** Handles one message; returns the transaction when the message was its commit. */
  handle(message: PgOutputMessage, walStart: bigint): CapturedTransaction | null {
    switch (message.tag) {
      case 'relation':
        this.relations.set(message.relationOid, message);
        return null;
      case 'begin':
        this.open = {
          xid: message.xid,
          finalLsn: message.finalLsn,
          commitTimeMicros: message.commitTimeMicros,
          lastCommitLsn: this.lastCommitLsn,
          pending: [],
          context: {},
        };
        return null;
      case 'message':
        if (this.open && message.transactional && message.prefix === TRANSACTION_CONTEXT_PREFIX) {
          this.open.context = parseContext(message.content);
        }
        return null;
      case 'insert': {
        const relation = this.relationOf(message.relationOid);
        this.push(relation, 'c', null, rowOf(relation, message.newTuple, null), walStart);
        return null;
      }
      case 'update': {
        const relation = this.relationOf(message.relationOid);
        const before = message.oldTuple ? rowOf(relation, message.oldTuple, null, message.oldIsKeyOnly) : null;
        this.push(relation, 'u', before, rowOf(relation, message.newTuple, before), walStart);
        return null;
      }
      case 'delete': {
        const relation = this.relationOf(message.relationOid);
        this.push(relation, 'd', rowOf(relation, message.oldTuple, null, message.oldIsKeyOnly), null, walStart);
        return null;
      }
      case 'truncate':
        for (const oid of message.relationOids) this.push(this.relationOf(oid), 't', null, null, walStart);
        return null;
      case 'commit':
        return this.commit(message.commitLsn, message.endLsn, message.commitTimeMicros);
      default:
        return null;
    }
  }

  /** Forgets the transaction being received (the stream restarts from the slot). */
  reset(): void {
    this.open = null;
  }

  private relationOf(oid: number): Relation {
    const relation = this.relations.get(oid);
    if (!relation) throw new Error(`pgoutput: change of relation ${oid} before its Relation message`);
    return relation;
  }

  private push(
    relation: Relation,
    op: ChangeEvent.Operation,
    before: ChangeEvent.Row | null,
    after: ChangeEvent.Row | null,
    lsn: bigint,
  ): void {
    if (!this.open) throw new Error('pgoutput: change outside a transaction');
    this.open.pending.push({ relation, op, before, after, lsn });
  }

  private commit(commitLsn: bigint, endLsn: bigint, commitTimeMicros: bigint): CapturedTransaction {
    const open = this.open;
    if (!open) throw new Error('pgoutput: commit without begin');
    this.open = null;
    this.lastCommitLsn = commitLsn;
    const micros = microsOf(commitTimeMicros);
    const millis = Math.floor(micros / 1000);
    const id = `${open.xid}:${commitLsn}`;
    const now = this.options.now ?? Date.now;
    const processedMillis = now();
    const perTable = new Map<string, number>();
    const changes = open.pending.map((change, index): CapturedChange => {
      const { relation } = change;
      const collection = `${relation.schema}.${relation.table}`;
      const order = (perTable.get(collection) ?? 0) + 1;
      perTable.set(collection, order);
      const value: ChangeEvent.Value = {
        before: change.before,
        after: change.after,
        source: {
          version: this.options.version,
          connector: 'postgresql',
          name: this.options.serverName,
          ts_ms: millis,
          ts_us: micros,
          snapshot: 'false',
          db: this.options.database,
          sequence: JSON.stringify([open.lastCommitLsn === null ? null : open.lastCommitLsn.toString(), change.lsn.toString()]),
          schema: relation.schema,
          table: relation.table,
          txId: open.xid,
          lsn: Number(change.lsn),
        },
        op: change.op,
        ts_ms: processedMillis,
        ts_us: processedMillis * 1000,
        transaction: { id, total_order: index + 1, data_collection_order: order },
      };
      const primaryKey =
        this.options.primaryKeyOf?.(relation.schema, relation.table) ??
        relation.columns.filter((column) => column.isKey).map((column) => column.name);
      return {
        schema: relation.schema,
        table: relation.table,
        primaryKey: primaryKey.length > 0 ? primaryKey : relation.columns.map((column) => column.name),
        value,
        idempotencyKey: `${commitLsn}:${index + 1}`,
      };
    });
    const dataCollections = [...perTable].map(([data_collection, event_count]) => ({ data_collection, event_count }));
    return {
      id,
      xid: open.xid,
      commitLsn,
      endLsn,
      commitTimeMicros: micros,
      context: open.context,
      changes,
      begin: { status: 'BEGIN', id, ts_ms: millis, event_count: null, data_collections: null },
      end: { status: 'END', id, ts_ms: millis, event_count: changes.length, data_collections: dataCollections },
    };
  }
}

function rowOf(
  relation: Relation,
  tuple: readonly TupleValue[],
  previous: ChangeEvent.Row | null,
  keyOnly = false,
): ChangeEvent.Row {
  const row: ChangeEvent.Row = {};
  relation.columns.forEach((column, index) => {
    if (keyOnly && !column.isKey) return;
    const value = tuple[index];
    if (value === undefined || value.kind === 'null') row[column.name] = null;
    else if (value.kind === 'unchanged-toast') {
      // The old image (REPLICA IDENTITY FULL) has it when the row was small enough; else marked.
      const known = previous?.[column.name];
      row[column.name] = known !== undefined && known !== UNAVAILABLE_VALUE ? known : UNAVAILABLE_VALUE;
    } else row[column.name] = columnValue(column.typeOid, value.text);
  });
  return row;
}

function parseContext(content: Buffer): TransactionContext {
  try {
    const parsed = JSON.parse(content.toString('utf8')) as Record<string, unknown>;
    return {
      correlationId: typeof parsed['correlationId'] === 'string' ? parsed['correlationId'] : undefined,
      changedBy: typeof parsed['changedBy'] === 'string' ? parsed['changedBy'] : undefined,
    };
  } catch {
    return {};
  }
}
