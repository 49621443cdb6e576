import type { ChangeEvent, TransactionBoundary } from '@tributary/contracts';
import { columnValue, UNAVAILABLE_VALUE } from './column-values';
import { lsnNumber, POSTGRES_EPOCH_MICROS, type PgOutputMessage, type Relation, type TupleValue } from './pgoutput';

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

/** What is known of a transaction from its BEGIN: pgoutput sends only committed transactions. */
export interface TransactionHeader {
  /** `txId:commitLSN`, as Debezium's transaction id. */
  readonly id: string;
  readonly xid: number;
  /** Start of the commit record (BEGIN carries it already). */
  readonly commitLsn: bigint;
  readonly commitTimeMicros: number;
  /** Correlation ID and acting user, as emitted by the writer (before its first change). */
  readonly context: TransactionContext;
  readonly begin: TransactionBoundary.Value;
}

export interface CapturedTransaction extends TransactionHeader {
  /** End of the commit record: the position to confirm once the transaction is in Kafka. */
  readonly endLsn: bigint;
  /** The changes not yet handed out in chunks (all of them for a transaction below the limit). */
  readonly changes: readonly CapturedChange[];
  /** Changes handed out earlier in chunks (a large transaction); their BEGIN went out with the first. */
  readonly chunkedChanges: number;
  readonly end: TransactionBoundary.Value;
  /** Rows inserted into the signal table by this transaction (not change events). */
  readonly signals: readonly ChangeEvent.Row[];
}

/** Part of a large transaction handed out before its commit arrives, to bound memory. */
export interface TransactionChunk {
  readonly transaction: TransactionHeader;
  readonly changes: readonly CapturedChange[];
  /** The first chunk of the transaction: its BEGIN record goes out with it. */
  readonly first: boolean;
}

export type AssembledOutput =
  | { readonly kind: 'chunk'; readonly chunk: TransactionChunk }
  | { readonly kind: 'commit'; readonly transaction: CapturedTransaction };

export interface AssemblerOptions {
  /** Topic prefix, also `source.name`. */
  readonly serverName: string;
  readonly database: string;
  readonly version: string;
  /** Primary key columns of a table (`schema.table`); default: the replica identity columns. */
  readonly primaryKeyOf?: (schema: string, table: string) => readonly string[] | undefined;
  /** Inserts into this table are signals, not change events. */
  readonly signalTable?: { readonly schema: string; readonly table: string };
  /**
   * Changes of one transaction held before they are handed out as a chunk (default: unlimited).
   * pgoutput (protocol 1) sends a transaction only once it committed, so a chunk can be produced
   * before the commit message arrives; its position is still confirmed only after the commit.
   */
  readonly maxEventsInMemory?: number;
  readonly now?: () => number;
}

interface OpenTransaction {
  readonly header: TransactionHeader;
  readonly millis: number;
  /** `source.sequence` prefix: the previous commit LSN this process saw, or null. */
  readonly sequencePrefix: string;
  readonly perTable: Map<string, number>;
  pending: CapturedChange[];
  total: number;
  chunked: number;
  context: TransactionContext;
  readonly signals: ChangeEvent.Row[];
}

function microsOf(pgMicros: bigint): number {
  return Number(pgMicros + POSTGRES_EPOCH_MICROS);
}

/**
 * Turns the pgoutput messages of one replication stream into Debezium change events, transaction
 * by transaction. Keeps the relations (schema of each table as last announced, so an
 * `ALTER TABLE ... ADD COLUMN` shows in the next event) and the transaction being received; each
 * change's envelope is built when it arrives (BEGIN carries the commit LSN and time), and a
 * transaction larger than `maxEventsInMemory` is handed out in chunks.
 */
export class TransactionAssembler {
  private readonly relations = new Map<number, Relation>();
  private readonly primaryKeys = new Map<number, readonly string[]>();
  private open: OpenTransaction | null = null;
  private lastCommitLsn: bigint | null = null;

  constructor(private readonly options: AssemblerOptions) {}

  /** A transaction is being received (its changes are not complete yet). */
  get inTransaction(): boolean {
    return this.open !== null;
  }

  /** Handles one message; returns a chunk of a large transaction, or the transaction at its commit. */
  handle(message: PgOutputMessage, walStart: bigint): AssembledOutput | null {
    switch (message.tag) {
      case 'relation':
        this.relations.set(message.relationOid, message);
        this.primaryKeys.delete(message.relationOid);
        return null;
      case 'begin':
        this.begin(message.xid, message.finalLsn, message.commitTimeMicros);
        return null;
      case 'message':
        if (this.open && message.transactional && message.prefix === TRANSACTION_CONTEXT_PREFIX) {
          this.open.context = parseContext(message.content);
        }
        return null;
      case 'insert': {
        const relation = this.relationOf(message.relationOid);
        return this.push(relation, 'c', null, rowOf(relation, message.newTuple, null), walStart);
      }
      case 'update': {
        const relation = this.relationOf(message.relationOid);
        const before = message.oldTuple ? rowOf(relation, message.oldTuple, null, message.oldIsKeyOnly) : null;
        return this.push(relation, 'u', before, rowOf(relation, message.newTuple, before), walStart);
      }
      case 'delete': {
        const relation = this.relationOf(message.relationOid);
        return this.push(relation, 'd', rowOf(relation, message.oldTuple, null, message.oldIsKeyOnly), null, walStart);
      }
      case 'truncate': {
        let output: AssembledOutput | null = null;
        for (const oid of message.relationOids) output = this.push(this.relationOf(oid), 't', null, null, walStart) ?? output;
        return output;
      }
      case 'commit':
        return { kind: 'commit', transaction: this.commit(message.commitLsn, message.endLsn) };
      default:
        return null;
    }
  }

  /** Forgets the transaction being received (the stream restarts from the slot). */
  reset(): void {
    this.open = null;
  }

  private begin(xid: number, finalLsn: bigint, commitTimeMicros: bigint): void {
    const micros = microsOf(commitTimeMicros);
    const millis = Math.floor(micros / 1000);
    const id = `${xid}:${finalLsn}`;
    this.open = {
      header: {
        id,
        xid,
        commitLsn: finalLsn,
        commitTimeMicros: micros,
        context: {},
        begin: { status: 'BEGIN', id, ts_ms: millis, event_count: null, data_collections: null },
      },
      millis,
      sequencePrefix: this.lastCommitLsn === null ? '[null,"' : `["${this.lastCommitLsn}","`,
      perTable: new Map(),
      pending: [],
      total: 0,
      chunked: 0,
      context: {},
      signals: [],
    };
  }

  private relationOf(oid: number): Relation {
    const relation = this.relations.get(oid);
    if (!relation) throw new Error(`pgoutput: change of relation ${oid} before its Relation message`);
    return relation;
  }

  private primaryKeyOf(relation: Relation): readonly string[] {
    let primaryKey = this.primaryKeys.get(relation.relationOid);
    if (!primaryKey) {
      const declared =
        this.options.primaryKeyOf?.(relation.schema, relation.table) ??
        relation.columns.filter((column) => column.isKey).map((column) => column.name);
      primaryKey = declared.length > 0 ? declared : relation.columns.map((column) => column.name);
      this.primaryKeys.set(relation.relationOid, primaryKey);
    }
    return primaryKey;
  }

  private push(
    relation: Relation,
    op: ChangeEvent.Operation,
    before: ChangeEvent.Row | null,
    after: ChangeEvent.Row | null,
    lsn: bigint,
  ): AssembledOutput | null {
    const open = this.open;
    if (!open) throw new Error('pgoutput: change outside a transaction');
    const signals = this.options.signalTable;
    if (signals && relation.table === signals.table && relation.schema === signals.schema) {
      if (op === 'c' && after) open.signals.push(after);
      return null;
    }
    const collection = `${relation.schema}.${relation.table}`;
    const order = (open.perTable.get(collection) ?? 0) + 1;
    open.perTable.set(collection, order);
    const totalOrder = ++open.total;
    const processed = (this.options.now ?? Date.now)();
    const { header } = open;
    open.pending.push({
      schema: relation.schema,
      table: relation.table,
      primaryKey: this.primaryKeyOf(relation),
      value: {
        before,
        after,
        source: {
          version: this.options.version,
          connector: 'postgresql',
          name: this.options.serverName,
          ts_ms: open.millis,
          ts_us: header.commitTimeMicros,
          snapshot: 'false',
          db: this.options.database,
          sequence: `${open.sequencePrefix}${lsn}"]`,
          schema: relation.schema,
          table: relation.table,
          txId: header.xid,
          lsn: lsnNumber(lsn),
        },
        op,
        ts_ms: processed,
        ts_us: processed * 1000,
        transaction: { id: header.id, total_order: totalOrder, data_collection_order: order },
      },
      idempotencyKey: `${header.commitLsn}:${totalOrder}`,
    });
    const limit = this.options.maxEventsInMemory;
    if (limit === undefined || open.pending.length < limit) return null;
    const changes = open.pending;
    open.pending = [];
    const first = open.chunked === 0;
    open.chunked += changes.length;
    return { kind: 'chunk', chunk: { transaction: this.headerOf(open), changes, first } };
  }

  private headerOf(open: OpenTransaction): TransactionHeader {
    return { ...open.header, context: open.context };
  }

  private commit(commitLsn: bigint, endLsn: bigint): CapturedTransaction {
    const open = this.open;
    if (!open) throw new Error('pgoutput: commit without begin');
    this.open = null;
    this.lastCommitLsn = commitLsn;
    const header = this.headerOf(open);
    const dataCollections = [...open.perTable].map(([data_collection, event_count]) => ({ data_collection, event_count }));
    return {
      ...header,
      endLsn,
      changes: open.pending,
      chunkedChanges: open.chunked,
      end: { status: 'END', id: header.id, ts_ms: open.millis, event_count: open.total, data_collections: dataCollections },
      signals: open.signals,
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
  const columns = relation.columns;
  for (let index = 0; index < columns.length; index++) {
    const column = columns[index] as Relation['columns'][number];
    if (keyOnly && !column.isKey) continue;
    const value = tuple[index];
    if (value === undefined || value.kind === 'null') row[column.name] = null;
    else if (value.kind === 'unchanged-toast') {
      // The old image (REPLICA IDENTITY FULL) has it when the row was small enough; else marked.
      const known = previous?.[column.name];
      row[column.name] = known !== undefined && known !== UNAVAILABLE_VALUE ? known : UNAVAILABLE_VALUE;
    } else row[column.name] = columnValue(column.typeOid, value.text);
  }
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
