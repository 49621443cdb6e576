import type { ChangeEvent, TransactionBoundary } from '@tributary/contracts';
import { isJsonType, jsonFragment, UNAVAILABLE_VALUE } from './column-values';
import {
  lsnNumber,
  POSTGRES_EPOCH_MICROS,
  type PgOutputMessage,
  type Relation,
  type RelationColumn,
  type TupleValue,
  UNCHANGED_TOAST,
} from './pgoutput';

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
  /** The change already written as JSON (streamed changes): Kafka and the audit trail reuse it. */
  readonly encoded?: EncodedChange;
}

/** A streamed change serialised once, as it is decoded. */
export interface EncodedChange {
  /** The whole envelope: the Kafka record's value; `JSON.parse` of it is `value`. */
  readonly json: string;
  readonly op: ChangeEvent.Operation;
  /** `transaction.total_order`. */
  readonly order: number;
  readonly before: string | null;
  readonly after: string | null;
  /** The Kafka key: the primary key columns as a JSON object, or `<schema>.<table>` for a truncate. */
  readonly key: string;
  /** `correlation_id` of the row after the change, else before it (a string column, else undefined). */
  readonly rowCorrelationId: string | undefined;
  /** `correlation_id` and `changed_by` of the row the audit trail records (after, else before). */
  readonly auditCorrelationId: string | null;
  readonly auditChangedBy: string | null;
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
  /** `"source":{...,"sequence":"[<previous commit LSN or null>,\"` of every change, as JSON. */
  readonly sourceHead: string;
  /** `,"transaction":{"id":...,"total_order":` as JSON. */
  readonly transactionHead: string;
  readonly perTable: Map<string, number>;
  pending: CapturedChange[];
  total: number;
  chunked: number;
  context: TransactionContext;
  readonly signals: ChangeEvent.Row[];
}

/**
 * What the assembler derives once per relation (until its next Relation message) so a change costs
 * no lookups: each column's `"name":` in JSON, where the primary key and the context columns are.
 */
interface RelationLayout {
  readonly relation: Relation;
  readonly collection: string;
  readonly primaryKey: readonly string[];
  readonly isSignalTable: boolean;
  /** `"<column>":` of each column. */
  readonly names: readonly string[];
  /** Index in the tuple of each primary key column (-1: not a column of the relation). */
  readonly keyIndexes: readonly number[];
  readonly keyNames: readonly string[];
  readonly correlationIndex: number;
  readonly changedByIndex: number;
  /** `,"schema":...,"table":...,"txId":` of `source`, as JSON. */
  readonly sourceTail: string;
  /** The truncate key `<schema>.<table>`. */
  readonly truncateKey: string;
}

/** A row written as JSON, and each column's JSON (the old image's fill unchanged TOASTed columns). */
interface EncodedRow {
  readonly json: string;
  readonly fragments: readonly (string | undefined)[];
}

const UNAVAILABLE_FRAGMENT = JSON.stringify(UNAVAILABLE_VALUE);
/** The end of `source.sequence` after the change's LSN: `"]` inside a JSON string. */
const SEQUENCE_TAIL = JSON.stringify('"]').slice(1);

function microsOf(pgMicros: bigint): number {
  return Number(pgMicros + POSTGRES_EPOCH_MICROS);
}

/** A streamed change: `value` is parsed from the JSON only when something asks for the object. */
class StreamedChange implements CapturedChange {
  private parsed: ChangeEvent.Value | undefined;

  constructor(
    readonly schema: string,
    readonly table: string,
    readonly primaryKey: readonly string[],
    readonly idempotencyKey: string,
    readonly encoded: EncodedChange,
  ) {}

  get value(): ChangeEvent.Value {
    this.parsed ??= JSON.parse(this.encoded.json) as ChangeEvent.Value;
    return this.parsed;
  }
}

/**
 * Turns the pgoutput messages of one replication stream into Debezium change events, transaction
 * by transaction. Keeps the relations (schema of each table as last announced, so an
 * `ALTER TABLE ... ADD COLUMN` shows in the next event) and the transaction being received; each
 * change's envelope is written as JSON when it arrives (BEGIN carries the commit LSN and time),
 * straight from the column texts, and a transaction larger than `maxEventsInMemory` is handed out
 * in chunks.
 */
export class TransactionAssembler {
  private readonly relations = new Map<number, Relation>();
  private readonly layouts = new Map<number, RelationLayout>();
  private open: OpenTransaction | null = null;
  private lastCommitLsn: bigint | null = null;
  /** `{"version":...,"db":...` of `source`: the same for every change of this stream. */
  private readonly sourceStart: string;

  constructor(private readonly options: AssemblerOptions) {
    this.sourceStart =
      `{"version":${JSON.stringify(options.version)},"connector":"postgresql",` +
      `"name":${JSON.stringify(options.serverName)},"ts_ms":`;
  }

  /** A transaction is being received (its changes are not complete yet). */
  get inTransaction(): boolean {
    return this.open !== null;
  }

  /** Handles one message; returns a chunk of a large transaction, or the transaction at its commit. */
  handle(message: PgOutputMessage, walStart: bigint): AssembledOutput | null {
    switch (message.tag) {
      case 'relation':
        this.relations.set(message.relationOid, message);
        this.layouts.delete(message.relationOid);
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
        const layout = this.layoutOf(message.relationOid);
        return this.push(layout, 'c', null, encodeRow(layout, message.newTuple, null, false), walStart);
      }
      case 'update': {
        const layout = this.layoutOf(message.relationOid);
        const before = message.oldTuple ? encodeRow(layout, message.oldTuple, null, message.oldIsKeyOnly) : null;
        return this.push(layout, 'u', before, encodeRow(layout, message.newTuple, before, false), walStart);
      }
      case 'delete': {
        const layout = this.layoutOf(message.relationOid);
        return this.push(layout, 'd', encodeRow(layout, message.oldTuple, null, message.oldIsKeyOnly), null, walStart);
      }
      case 'truncate': {
        let output: AssembledOutput | null = null;
        for (const oid of message.relationOids) output = this.push(this.layoutOf(oid), 't', null, null, walStart) ?? output;
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
    const sequencePrefix = this.lastCommitLsn === null ? '[null,"' : `["${this.lastCommitLsn}","`;
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
      sourceHead:
        `${this.sourceStart}${millis},"ts_us":${micros},"snapshot":"false",` +
        `"db":${JSON.stringify(this.options.database)},"sequence":${JSON.stringify(sequencePrefix).slice(0, -1)}`,
      transactionHead: `,"transaction":{"id":${JSON.stringify(id)},"total_order":`,
      perTable: new Map(),
      pending: [],
      total: 0,
      chunked: 0,
      context: {},
      signals: [],
    };
  }

  private layoutOf(oid: number): RelationLayout {
    let layout = this.layouts.get(oid);
    if (layout) return layout;
    const relation = this.relations.get(oid);
    if (!relation) throw new Error(`pgoutput: change of relation ${oid} before its Relation message`);
    const columnNames = relation.columns.map((column) => column.name);
    const declared =
      this.options.primaryKeyOf?.(relation.schema, relation.table) ??
      relation.columns.filter((column) => column.isKey).map((column) => column.name);
    const primaryKey = declared.length > 0 ? declared : columnNames;
    const signals = this.options.signalTable;
    layout = {
      relation,
      collection: `${relation.schema}.${relation.table}`,
      primaryKey,
      isSignalTable: signals !== undefined && relation.table === signals.table && relation.schema === signals.schema,
      names: columnNames.map((name) => `${JSON.stringify(name)}:`),
      keyIndexes: primaryKey.map((name) => columnNames.indexOf(name)),
      keyNames: primaryKey.map((name) => `${JSON.stringify(name)}:`),
      correlationIndex: columnNames.indexOf('correlation_id'),
      changedByIndex: columnNames.indexOf('changed_by'),
      sourceTail: `,"schema":${JSON.stringify(relation.schema)},"table":${JSON.stringify(relation.table)},"txId":`,
      truncateKey: `${relation.schema}.${relation.table}`,
    };
    this.layouts.set(oid, layout);
    return layout;
  }

  private push(
    layout: RelationLayout,
    op: ChangeEvent.Operation,
    before: EncodedRow | null,
    after: EncodedRow | null,
    lsn: bigint,
  ): AssembledOutput | null {
    const open = this.open;
    if (!open) throw new Error('pgoutput: change outside a transaction');
    if (layout.isSignalTable) {
      if (op === 'c' && after) open.signals.push(JSON.parse(after.json) as ChangeEvent.Row);
      return null;
    }
    const { relation, collection } = layout;
    const order = (open.perTable.get(collection) ?? 0) + 1;
    open.perTable.set(collection, order);
    const totalOrder = ++open.total;
    const processed = (this.options.now ?? Date.now)();
    const { header } = open;
    const beforeJson = before === null ? null : before.json;
    const afterJson = after === null ? null : after.json;
    const json =
      `{"before":${beforeJson ?? 'null'},"after":${afterJson ?? 'null'},"source":${open.sourceHead}${lsn}${SEQUENCE_TAIL}` +
      `${layout.sourceTail}${header.xid},"lsn":${lsnNumber(lsn) ?? 'null'}},"op":"${op}","ts_ms":${processed},` +
      `"ts_us":${processed * 1000}${open.transactionHead}${totalOrder},"data_collection_order":${order}}}`;
    const row = after ?? before;
    const afterCorrelation = columnString(after, layout.correlationIndex);
    const encoded: EncodedChange = {
      json,
      op,
      order: totalOrder,
      before: beforeJson,
      after: afterJson,
      key: row === null ? layout.truncateKey : keyOf(layout, row),
      rowCorrelationId: stringOr(afterCorrelation ?? columnString(before, layout.correlationIndex)),
      auditCorrelationId: stringOr(columnString(row, layout.correlationIndex)) ?? null,
      auditChangedBy: stringOr(columnString(row, layout.changedByIndex)) ?? null,
    };
    open.pending.push(
      new StreamedChange(relation.schema, relation.table, layout.primaryKey, `${header.commitLsn}:${totalOrder}`, encoded),
    );
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

/**
 * A tuple as a JSON object, column by column from the texts PostgreSQL sent. A TOASTed column the
 * update did not change takes the old image's value when it has one (REPLICA IDENTITY FULL on a
 * row small enough), else Debezium's marker; never null.
 */
function encodeRow(
  layout: RelationLayout,
  tuple: readonly TupleValue[],
  previous: EncodedRow | null,
  keyOnly: boolean,
): EncodedRow {
  const columns = layout.relation.columns;
  const names = layout.names;
  const fragments = new Array<string | undefined>(columns.length);
  let json = '{';
  let first = true;
  for (let index = 0; index < columns.length; index++) {
    const column = columns[index] as RelationColumn;
    if (keyOnly && !column.isKey) continue;
    const value = tuple[index];
    let fragment: string;
    if (typeof value === 'string') fragment = jsonFragment(column.typeOid, value);
    else if (value === UNCHANGED_TOAST) {
      const known = previous?.fragments[index];
      fragment = known !== undefined && known !== UNAVAILABLE_FRAGMENT ? known : UNAVAILABLE_FRAGMENT;
    } else fragment = 'null';
    fragments[index] = fragment;
    json += first ? `${names[index]}${fragment}` : `,${names[index]}${fragment}`;
    first = false;
  }
  return { json: `${json}}`, fragments };
}

/**
 * The key as `ChangeEvent.keyFor` writes it from the row object: every fragment but json's is
 * already `JSON.stringify` of the value; a json key column is normalised the same way.
 */
function keyOf(layout: RelationLayout, row: EncodedRow): string {
  const columns = layout.relation.columns;
  let key = '{';
  for (let position = 0; position < layout.keyIndexes.length; position++) {
    const index = layout.keyIndexes[position] as number;
    let fragment = index < 0 ? undefined : row.fragments[index];
    if (fragment === undefined) fragment = 'null';
    else if (isJsonType((columns[index] as RelationColumn).typeOid)) fragment = JSON.stringify(JSON.parse(fragment));
    key += position === 0 ? `${layout.keyNames[position]}${fragment}` : `,${layout.keyNames[position]}${fragment}`;
  }
  return `${key}}`;
}

/** The value of a column of an encoded row when it is a JSON string; null when SQL null; else undefined. */
function columnString(row: EncodedRow | null, index: number): string | null | undefined {
  if (row === null || index < 0) return undefined;
  const fragment = row.fragments[index];
  if (fragment === undefined) return undefined;
  if (fragment === 'null') return null;
  return fragment.charCodeAt(0) === 0x22 ? (JSON.parse(fragment) as string) : undefined;
}

function stringOr(value: string | null | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
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
