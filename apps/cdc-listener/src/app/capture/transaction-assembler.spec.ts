import { ChangeEvent } from '@tributary/contracts';
import { columnValue, UNAVAILABLE_VALUE } from './column-values';
import type { PgOutputMessage, Relation, TupleValue } from './pgoutput';
import { lsnNumber, UNCHANGED_TOAST } from './pgoutput';
import { type AssembledOutput, TransactionAssembler } from './transaction-assembler';

const orders: Relation = {
  tag: 'relation',
  relationOid: 1001,
  schema: 'trading',
  table: 'orders',
  replicaIdentity: 'f',
  columns: [
    { name: 'id', typeOid: 20, typeModifier: -1, isKey: true },
    { name: 'limit_price', typeOid: 1700, typeModifier: -1, isKey: true },
  ],
};
const signals: Relation = {
  tag: 'relation',
  relationOid: 1002,
  schema: 'trading',
  table: 'cdc_signals',
  replicaIdentity: 'd',
  columns: [
    { name: 'id', typeOid: 25, typeModifier: -1, isKey: true },
    { name: 'type', typeOid: 25, typeModifier: -1, isKey: false },
    { name: 'data', typeOid: 3802, typeModifier: -1, isKey: false },
  ],
};

function insert(relation: Relation, ...values: string[]): PgOutputMessage {
  return { tag: 'insert', relationOid: relation.relationOid, newTuple: values };
}

/** Feeds one transaction of `rows` inserts into orders; returns every output in order. */
function transaction(assembler: TransactionAssembler, rows: number, commitLsn = 5000n, extra: PgOutputMessage[] = []): AssembledOutput[] {
  const outputs: AssembledOutput[] = [];
  const feed = (message: PgOutputMessage, lsn: bigint) => {
    const output = assembler.handle(message, lsn);
    if (output) outputs.push(output);
  };
  feed({ tag: 'begin', finalLsn: commitLsn, commitTimeMicros: 795_882_600_123_456n, xid: 731 }, commitLsn - 100n);
  feed(
    { tag: 'message', transactional: true, lsn: 0n, prefix: 'tributary.context', content: Buffer.from('{"correlationId":"req-9","changedBy":"bob"}') },
    commitLsn - 99n,
  );
  for (const message of extra) feed(message, commitLsn - 50n);
  for (let row = 1; row <= rows; row++) feed(insert(orders, String(row), '187.12345678'), commitLsn - 90n + BigInt(row));
  feed({ tag: 'commit', commitLsn, endLsn: commitLsn + 48n, commitTimeMicros: 795_882_600_123_456n }, commitLsn);
  return outputs;
}

function assembler(maxEventsInMemory?: number): TransactionAssembler {
  const instance = new TransactionAssembler({
    serverName: 'cdc',
    database: 'tributary',
    version: 'test',
    signalTable: { schema: 'trading', table: 'cdc_signals' },
    maxEventsInMemory,
    now: () => 1_742_567_400_131,
  });
  instance.handle(orders, 0n);
  instance.handle(signals, 0n);
  return instance;
}

describe('transactions assembled from pgoutput', () => {
  it('hands a small transaction out whole at its commit, with its context and Debezium envelope', () => {
    const [output] = transaction(assembler(), 2);
    if (output?.kind !== 'commit') throw new Error('expected the commit');
    const { transaction: captured } = output;
    expect(captured.changes).toHaveLength(2);
    expect(captured.chunkedChanges).toBe(0);
    expect(captured.context).toEqual({ correlationId: 'req-9', changedBy: 'bob' });
    expect(captured.changes[1]?.value).toMatchObject({
      op: 'c',
      after: { id: '2', limit_price: '187.12345678' },
      source: { txId: 731, lsn: 4912, sequence: '[null,"4912"]', snapshot: 'false', ts_us: 1_742_567_400_123_456 },
      transaction: { id: '731:5000', total_order: 2, data_collection_order: 2 },
    });
    expect(captured.changes[1]?.idempotencyKey).toBe('5000:2');
    expect(captured.end).toMatchObject({ event_count: 2, data_collections: [{ data_collection: 'trading.orders', event_count: 2 }] });
  });

  it('hands a large transaction out in chunks of the configured size, in order, and counts all of it at the commit', () => {
    const outputs = transaction(assembler(4), 10);
    expect(outputs.map((output) => output.kind)).toEqual(['chunk', 'chunk', 'commit']);
    const [first, second, commit] = outputs;
    if (first?.kind !== 'chunk' || second?.kind !== 'chunk' || commit?.kind !== 'commit') throw new Error('unexpected outputs');
    expect([first.chunk.first, second.chunk.first]).toEqual([true, false]);
    expect(first.chunk.transaction).toMatchObject({ id: '731:5000', commitLsn: 5000n, context: { correlationId: 'req-9' } });
    const orderOf = (changes: readonly { value: { transaction: { total_order: number } | null } }[]) =>
      changes.map((change) => change.value.transaction?.total_order);
    expect(orderOf(first.chunk.changes)).toEqual([1, 2, 3, 4]);
    expect(orderOf(second.chunk.changes)).toEqual([5, 6, 7, 8]);
    expect(orderOf(commit.transaction.changes)).toEqual([9, 10]);
    expect(commit.transaction.chunkedChanges).toBe(8);
    expect(commit.transaction.end.event_count).toBe(10);
  });

  it('takes inserts into the signal table as signals, not as change events', () => {
    const [output] = transaction(assembler(), 1, 7000n, [
      insert(signals, 'sig-1', 'execute-snapshot', '{"data-collections":["trading.orders"]}'),
    ]);
    if (output?.kind !== 'commit') throw new Error('expected the commit');
    expect(output.transaction.signals).toEqual([
      { id: 'sig-1', type: 'execute-snapshot', data: { 'data-collections': ['trading.orders'] } },
    ]);
    expect(output.transaction.changes.map((change) => change.table)).toEqual(['orders']);
    expect(output.transaction.end.event_count).toBe(1);
  });

  it('writes source.lsn exactly as a JSON number below 2^53 and null above, never a rounded number', () => {
    expect(lsnNumber(24_023_128n)).toBe(24_023_128);
    expect(lsnNumber(9_007_199_254_740_991n)).toBe(9_007_199_254_740_991);
    expect(lsnNumber(9_007_199_254_740_993n)).toBeNull();
  });

  describe('envelopes written as JSON once, as the changes arrive', () => {
    const trades: Relation = {
      tag: 'relation',
      relationOid: 1003,
      schema: 'trading',
      table: 'trades',
      replicaIdentity: 'f',
      columns: [
        { name: 'id', typeOid: 20, typeModifier: -1, isKey: true },
        { name: 'price', typeOid: 1700, typeModifier: -1, isKey: true },
        { name: 'executed_at', typeOid: 1184, typeModifier: -1, isKey: true },
        { name: 'note', typeOid: 25, typeModifier: -1, isKey: true },
        { name: 'details', typeOid: 3802, typeModifier: -1, isKey: true },
        { name: 'filled', typeOid: 16, typeModifier: -1, isKey: true },
        { name: 'ratio', typeOid: 701, typeModifier: -1, isKey: true },
        { name: 'tags', typeOid: 1009, typeModifier: -1, isKey: true },
        { name: 'correlation_id', typeOid: 25, typeModifier: -1, isKey: true },
        { name: 'changed_by', typeOid: 25, typeModifier: -1, isKey: true },
      ],
    };
    const row: TupleValue[] = [
      '42',
      '0.123456789012345678',
      '2025-03-21 14:30:00.123456+00',
      'say "hi" \\ é',
      '{"venue": "XNAS", "lots": [1, 2]}',
      't',
      '0.1',
      '{a,NULL,"b c"}',
      'req-row',
      null,
    ];
    const objectOf = (tuple: readonly TupleValue[]): ChangeEvent.Row =>
      Object.fromEntries(
        trades.columns.map((column, index) => {
          const value = tuple[index];
          return [column.name, typeof value === 'string' ? columnValue(column.typeOid, value) : value === null ? null : UNAVAILABLE_VALUE];
        }),
      );

    function changesOf(...messages: PgOutputMessage[]) {
      const instance = assembler();
      instance.handle(trades, 0n);
      instance.handle({ tag: 'begin', finalLsn: 9000n, commitTimeMicros: 795_882_600_123_456n, xid: 77 }, 8000n);
      messages.forEach((message, index) => instance.handle(message, 8001n + BigInt(index)));
      const output = instance.handle({ tag: 'commit', commitLsn: 9000n, endLsn: 9048n, commitTimeMicros: 795_882_600_123_456n }, 9000n);
      if (output?.kind !== 'commit') throw new Error('expected the commit');
      return output.transaction.changes;
    }

    it('writes each column as the event object holds it, the key as the topic key function does, and the row context', () => {
      const [change] = changesOf({ tag: 'insert', relationOid: 1003, newTuple: row });
      const encoded = change?.encoded;
      if (!change || !encoded) throw new Error('expected an encoded change');
      const value = JSON.parse(encoded.json) as ChangeEvent.Value;
      expect(value.after).toEqual(objectOf(row));
      expect(value).toMatchObject({
        before: null,
        op: 'c',
        ts_ms: 1_742_567_400_131,
        source: { version: 'test', connector: 'postgresql', name: 'cdc', db: 'tributary', schema: 'trading', table: 'trades' },
        transaction: { id: '77:9000', total_order: 1, data_collection_order: 1 },
      });
      expect(change.value).toEqual(value);
      expect(JSON.parse(encoded.after ?? 'null')).toEqual(value.after);
      // REPLICA IDENTITY FULL and no declared primary key: every column is in the key, json normalised.
      expect(change.primaryKey).toHaveLength(trades.columns.length);
      expect(encoded.key).toBe(ChangeEvent.keyFor(change.primaryKey)(value));
      expect(encoded).toMatchObject({ op: 'c', order: 1, rowCorrelationId: 'req-row', auditCorrelationId: 'req-row', auditChangedBy: null });
      expect(change.idempotencyKey).toBe('9000:1');
    });

    it('fills an unchanged TOASTed column from the old image, and marks it when the old image lacks it', () => {
      const newTuple: TupleValue[] = [...row];
      newTuple[4] = UNCHANGED_TOAST;
      const [full, keyOnly] = changesOf(
        { tag: 'update', relationOid: 1003, oldTuple: row, oldIsKeyOnly: false, newTuple },
        { tag: 'update', relationOid: 1003, oldTuple: null, oldIsKeyOnly: false, newTuple },
      );
      expect(full?.value.after?.['details']).toEqual({ venue: 'XNAS', lots: [1, 2] });
      expect(full?.value.before).toEqual(objectOf(row));
      expect(keyOnly?.value.after?.['details']).toBe(UNAVAILABLE_VALUE);
      expect(keyOnly?.value.before).toBeNull();
    });

    it('writes a delete keyed by its old row and a truncate keyed by its table', () => {
      const [deleted, truncated] = changesOf(
        { tag: 'delete', relationOid: 1003, oldTuple: row, oldIsKeyOnly: false },
        { tag: 'truncate', relationOids: [1003], cascade: false, restartIdentity: false },
      );
      if (!deleted) throw new Error('expected the delete');
      expect(deleted.encoded).toMatchObject({ op: 'd', after: null, auditCorrelationId: 'req-row' });
      expect(deleted.encoded?.key).toBe(ChangeEvent.keyFor(deleted.primaryKey)(deleted.value));
      expect(deleted.value.before).toEqual(objectOf(row));
      expect(truncated?.encoded).toMatchObject({ op: 't', key: 'trading.trades', before: null, after: null });
      expect(truncated?.value).toMatchObject({ op: 't', before: null, after: null, transaction: { total_order: 2 } });
    });
  });
});
