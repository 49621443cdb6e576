import type { PgOutputMessage, Relation } from './pgoutput';
import { lsnNumber } from './pgoutput';
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
  return { tag: 'insert', relationOid: relation.relationOid, newTuple: values.map((text) => ({ kind: 'text', text })) };
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
});
