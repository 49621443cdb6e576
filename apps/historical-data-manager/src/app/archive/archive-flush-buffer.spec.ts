import { DatasetArchiveBuffer, type FlushPolicy, PartitionRevokedError } from './archive-flush-buffer';
import type { ArchiveRecord } from './parquet-partition-writer';
import type { ArchivedDataset } from './topic-archiver';

const dataset: ArchivedDataset = {
  name: 'market_trades',
  topic: 'market.trades',
  schemaVersion: 1,
  columns: [],
  retentionDays: null,
};

function records(from: number, count: number): ArchiveRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    offset: BigInt(from + i),
    key: 'AAPL',
    eventTimeNs: 1_767_229_199_999_000_123n,
    value: { symbol: 'AAPL' },
  }));
}

function bufferWith(policy: Partial<FlushPolicy>, fail?: (partition: number) => boolean) {
  const archived: { partition: number; offsets: bigint[] }[] = [];
  const buffer = new DatasetArchiveBuffer(
    dataset,
    { maxRows: 1000, maxBytes: 1_000_000, maxAgeMs: 3_600_000, ...policy },
    (flush) => flush(),
    async (_dataset, partition, recs) => {
      if (fail?.(partition)) throw new Error('S3 unavailable');
      archived.push({ partition, offsets: recs.map((r) => r.offset) });
      return { committed: [], skipped: 0 };
    },
  );
  return { buffer, archived };
}

describe('DatasetArchiveBuffer', () => {
  afterEach(() => jest.useRealTimers());

  it('holds a batch (its offsets stay uncommitted) until the rows limit is reached across batches of several partitions', async () => {
    const { buffer, archived } = bufferWith({ maxRows: 10 });
    let firstDone = false;
    const first = buffer.add(0, records(0, 6), 600).then(() => (firstDone = true));
    await Promise.resolve();
    expect(firstDone).toBe(false);
    expect(buffer.heldRows).toBe(6);
    const second = buffer.add(1, records(100, 4), 400);
    await Promise.all([first, second]);
    expect(archived).toEqual([
      { partition: 0, offsets: records(0, 6).map((r) => r.offset) },
      { partition: 1, offsets: records(100, 4).map((r) => r.offset) },
    ]);
    expect(buffer.heldRows).toBe(0);
  });

  it('writes when the bytes limit is reached', async () => {
    const { buffer, archived } = bufferWith({ maxBytes: 500 });
    await buffer.add(0, records(0, 2), 600);
    expect(archived).toHaveLength(1);
  });

  it('writes what is held once the oldest record reaches the age limit', async () => {
    jest.useFakeTimers();
    const { buffer, archived } = bufferWith({ maxAgeMs: 2000 });
    const held = buffer.add(2, records(0, 3), 300);
    jest.advanceTimersByTime(1999);
    expect(archived).toHaveLength(0);
    jest.advanceTimersByTime(1);
    await held;
    expect(archived).toEqual([{ partition: 2, offsets: [0n, 1n, 2n] }]);
  });

  it('one partition of a flush failing fails only its batches, which the consumer then delivers again', async () => {
    const { buffer, archived } = bufferWith({ maxRows: 4 }, (partition) => partition === 1);
    const ok = buffer.add(0, records(0, 2), 10);
    const failed = buffer.add(1, records(0, 2), 10);
    await expect(failed).rejects.toThrow('S3 unavailable');
    await expect(ok).resolves.toBeUndefined();
    expect(archived).toEqual([{ partition: 0, offsets: [0n, 1n] }]);
  });

  it('a partition held twice (lost and regained in a rebalance) is written with one row per offset, in offset order', async () => {
    const { buffer, archived } = bufferWith({});
    const a = buffer.add(0, records(5, 5), 10);
    const b = buffer.add(0, records(3, 5), 10);
    await buffer.flush();
    await Promise.all([a, b]);
    expect(archived).toEqual([{ partition: 0, offsets: [3n, 4n, 5n, 6n, 7n, 8n, 9n] }]);
  });

  it('records of a revoked partition are dropped from the buffer (they come again) while the other partitions are still written', async () => {
    const { buffer, archived } = bufferWith({});
    const revoked = buffer.add(1, records(0, 4), 40);
    const kept = buffer.add(2, records(0, 3), 30);
    expect(buffer.bufferedRows).toBe(7);
    expect(buffer.drop([1])).toBe(4);
    await expect(revoked).rejects.toBeInstanceOf(PartitionRevokedError);
    expect(buffer.bufferedRows).toBe(3);
    expect(buffer.bufferedBytes).toBe(30);
    await buffer.flush();
    await kept;
    expect(archived).toEqual([{ partition: 2, offsets: [0n, 1n, 2n] }]);
  });
});
