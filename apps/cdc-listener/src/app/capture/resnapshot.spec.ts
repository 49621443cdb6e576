import { requestsOfSignals, SnapshotVisibility } from './resnapshot';

describe('re-snapshot signals', () => {
  const tables = ['orders', 'trades'];

  it('asks for each captured table a signal names, with or without the schema', () => {
    const { requests, rejected } = requestsOfSignals(
      [
        { id: 'a', type: 'execute-snapshot', data: { 'data-collections': ['trading.orders', 'trades'] } },
        { id: 'b', type: 'log', data: { message: 'hello' } },
      ],
      'trading',
      tables,
    );
    expect(requests).toEqual([
      { signalId: 'a', table: 'orders' },
      { signalId: 'a', table: 'trades' },
    ]);
    expect(rejected).toEqual([]);
  });

  it('refuses a table that is not captured and a signal without data-collections, saying why', () => {
    const { requests, rejected } = requestsOfSignals(
      [
        { id: 'a', type: 'execute-snapshot', data: { 'data-collections': ['other.orders', 'trading.secrets'] } },
        { id: 'b', type: 'execute-snapshot', data: null },
      ],
      'trading',
      tables,
    );
    expect(requests).toEqual([]);
    expect(rejected.map(({ signalId, table }) => `${signalId}:${table}`)).toEqual(['a:other.orders', 'a:trading.secrets', 'b:']);
    expect(rejected[0]?.error).toMatch(/not a captured table/);
    expect(rejected[2]?.error).toMatch(/data-collections/);
  });
});

describe('where a snapshot sits in the change stream', () => {
  it('sees transactions committed before it and not those in progress or started after it', () => {
    const snapshot = SnapshotVisibility.parse('1000:1010:1003,1007', 5000n);
    expect(snapshot.sees(999)).toBe(true);
    expect(snapshot.sees(1002)).toBe(true);
    expect(snapshot.sees(1003)).toBe(false);
    expect(snapshot.sees(1007)).toBe(false);
    expect(snapshot.sees(1010)).toBe(false);
    expect(snapshot.sees(1500)).toBe(false);
  });

  it('compares 32-bit xids of the stream with 64-bit snapshot xids across an epoch wrap', () => {
    const epoch = 3n << 32n;
    const snapshot = SnapshotVisibility.parse(`${epoch - 5n}:${epoch + 5n}:${epoch + 1n}`, 1n);
    expect(snapshot.sees(0xfffffffd)).toBe(true); // epoch 2, just before the wrap, committed
    expect(snapshot.sees(0)).toBe(true);
    expect(snapshot.sees(1)).toBe(false); // in progress
    expect(snapshot.sees(6)).toBe(false); // after xmax
  });

  it('refuses text that is not a pg_snapshot', () => {
    expect(() => SnapshotVisibility.parse('nonsense', 1n)).toThrow(/not a pg_snapshot/);
  });
});
