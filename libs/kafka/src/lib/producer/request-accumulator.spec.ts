import { readRecordsBatch, Reader } from '@platformatic/kafka';
import type { PartitionRecords } from './batch-producer';
import { RequestAccumulator } from './request-accumulator';

interface SentBatch {
  topic: string;
  partition: number;
  compression: string;
  values: string[];
}

/**
 * A stand-in for the broker round trip: decodes each request's batches as they leave (the writers
 * are reused afterwards) and lets the test decide when a request comes back.
 */
class RecordingSender {
  readonly requests: SentBatch[][] = [];
  private readonly pending: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  autoAck = true;

  readonly send = (parts: readonly PartitionRecords[]): Promise<void> => {
    this.requests.push(
      parts.map((part) => {
        const batch = part.records.finish({ producerId: -1n, producerEpoch: -1, baseSequence: -1 });
        return {
          topic: part.topic,
          partition: part.partition,
          compression: part.compression ?? 'none',
          values: readRecordsBatch(Reader.from(batch)).records.map((record) => record.value?.toString() ?? ''),
        };
      }),
    );
    if (this.autoAck) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.pending.push({ resolve, reject }));
  };

  ackNext(): void {
    this.pending.shift()?.resolve();
  }

  failNext(error: Error): void {
    this.pending.shift()?.reject(error);
  }

  recordsIn(request: number): number {
    return (this.requests[request] ?? []).reduce((sum, batch) => sum + batch.values.length, 0);
  }
}

/** Writes `values` to one partition of `topic`. */
function write(accumulator: RequestAccumulator, topic: string, values: string[], partition = 0): Promise<void> {
  return accumulator.write(topic, 'none', (sink) => {
    for (const value of values) sink.add(partition, 'k', value, 1_000);
  });
}

const flushMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RequestAccumulator: many calls, few produce requests', () => {
  afterEach(() => jest.useRealTimers());

  it('gathers the calls made within the linger into one request, a batch per partition', async () => {
    jest.useFakeTimers();
    const sender = new RecordingSender();
    const accumulator = new RequestAccumulator(sender.send, { lingerMs: 5, maxBatchBytes: 1_000_000 });
    const calls = Array.from({ length: 100 }, (_, index) =>
      write(accumulator, index % 2 === 0 ? 'market.quotes' : 'market.trades', [`a${index}`, `b${index}`], index % 3),
    );
    expect(sender.requests).toHaveLength(0);
    jest.advanceTimersByTime(5);
    await Promise.all(calls);
    expect(sender.requests).toHaveLength(1);
    expect(sender.recordsIn(0)).toBe(200);
    expect(sender.requests[0]?.map((batch) => `${batch.topic}/${batch.partition}`).sort()).toEqual([
      'market.quotes/0',
      'market.quotes/1',
      'market.quotes/2',
      'market.trades/0',
      'market.trades/1',
      'market.trades/2',
    ]);
    expect(accumulator.stats).toEqual({ requests: 1, records: 200 });
  });

  it("keeps the order of the calls within a partition", async () => {
    const sender = new RecordingSender();
    const accumulator = new RequestAccumulator(sender.send, { lingerMs: 0, maxBatchBytes: 1_000_000 });
    sender.autoAck = false;
    const calls = [write(accumulator, 't', ['1', '2']), write(accumulator, 't', ['3']), write(accumulator, 't', ['4', '5'])];
    sender.ackNext();
    await flushMicrotasks();
    sender.ackNext();
    await Promise.all(calls);
    const values = sender.requests.flatMap((request) => request.flatMap((batch) => batch.values));
    expect(values).toEqual(['1', '2', '3', '4', '5']);
  });

  it('sends at once when a request holds maxBatchBytes, without waiting for the linger', async () => {
    jest.useFakeTimers();
    const sender = new RecordingSender();
    const accumulator = new RequestAccumulator(sender.send, { lingerMs: 60_000, maxBatchBytes: 1_000 });
    const call = write(accumulator, 't', Array.from({ length: 20 }, () => 'x'.repeat(100)));
    // 20 records of ~110 bytes: two full requests leave at once, the rest waits for the linger.
    expect(sender.requests.length).toBeGreaterThanOrEqual(1);
    jest.advanceTimersByTime(60_000);
    await call;
    expect(sender.requests.map((_, index) => sender.recordsIn(index)).reduce((a, b) => a + b)).toBe(20);
  });

  it('splits one large call into requests no larger than maxBatchBytes (plus one record), resolving when all are acknowledged', async () => {
    const sender = new RecordingSender();
    sender.autoAck = false;
    const accumulator = new RequestAccumulator(sender.send, { lingerMs: 0, maxBatchBytes: 2_000 });
    let resolved = false;
    const call = write(accumulator, 't', Array.from({ length: 100 }, (_, index) => `${index}`.padEnd(100, '.'))).then(
      () => (resolved = true),
    );
    for (let request = 0; request < 100 && !resolved; request++) {
      await flushMicrotasks();
      expect(resolved).toBe(false);
      sender.ackNext();
      await flushMicrotasks();
    }
    await call;
    expect(sender.requests.length).toBeGreaterThan(4);
    for (let index = 0; index < sender.requests.length; index++) expect(sender.recordsIn(index)).toBeLessThanOrEqual(20);
    const values = sender.requests.flatMap((request) => request.flatMap((batch) => batch.values));
    expect(values.map((value) => Number.parseInt(value, 10))).toEqual(Array.from({ length: 100 }, (_, index) => index));
  });

  it('keeps one request in flight and sends what queued meanwhile as the next one', async () => {
    const sender = new RecordingSender();
    sender.autoAck = false;
    const accumulator = new RequestAccumulator(sender.send, { lingerMs: 0, maxBatchBytes: 1_000_000 });
    const first = write(accumulator, 't', ['1']);
    const later = [write(accumulator, 't', ['2']), write(accumulator, 'u', ['3']), write(accumulator, 't', ['4'])];
    expect(sender.requests).toHaveLength(1);
    sender.ackNext();
    await first;
    await flushMicrotasks();
    expect(sender.requests).toHaveLength(2);
    expect(sender.recordsIn(1)).toBe(3);
    sender.ackNext();
    await Promise.all(later);
  });

  it('rejects the callers whose records were in a failed request, and only those', async () => {
    const sender = new RecordingSender();
    sender.autoAck = false;
    const accumulator = new RequestAccumulator(sender.send, { lingerMs: 0, maxBatchBytes: 1_000_000 });
    const failed = write(accumulator, 't', ['1']);
    const next = write(accumulator, 't', ['2']);
    sender.failNext(new Error('NOT_ENOUGH_REPLICAS'));
    await expect(failed).rejects.toThrow('NOT_ENOUGH_REPLICAS');
    await flushMicrotasks();
    sender.ackNext();
    await expect(next).resolves.toBeUndefined();
  });

  it('batches of different codecs travel in one request, each with its own codec', async () => {
    jest.useFakeTimers();
    const sender = new RecordingSender();
    const accumulator = new RequestAccumulator(sender.send, { lingerMs: 5, maxBatchBytes: 1_000_000 });
    const calls = [
      accumulator.write('a', 'lz4', (sink) => sink.add(0, 'k', '1', 1)),
      accumulator.write('b', 'zstd', (sink) => sink.add(0, 'k', '2', 1)),
    ];
    jest.advanceTimersByTime(5);
    await Promise.all(calls);
    expect(sender.requests).toHaveLength(1);
    expect(sender.requests[0]?.map((batch) => [batch.topic, batch.compression])).toEqual([
      ['a', 'lz4'],
      ['b', 'zstd'],
    ]);
  });

  it('flush sends what is waiting without the linger and resolves once nothing is left', async () => {
    jest.useFakeTimers();
    const sender = new RecordingSender();
    const accumulator = new RequestAccumulator(sender.send, { lingerMs: 60_000, maxBatchBytes: 1_000_000 });
    const call = write(accumulator, 't', ['1']);
    await accumulator.flush();
    await call;
    expect(sender.requests).toHaveLength(1);
    expect(accumulator.idle).toBe(true);
  });

  it('a call that throws while adding gets the error, and the records it added are still sent', async () => {
    const sender = new RecordingSender();
    const accumulator = new RequestAccumulator(sender.send, { lingerMs: 0, maxBatchBytes: 1_000_000 });
    expect(() =>
      accumulator.write('t', 'none', (sink) => {
        sink.add(0, 'k', '1', 1);
        throw new Error('bad record');
      }),
    ).toThrow('bad record');
    await accumulator.flush();
    expect(sender.requests.flatMap((request) => request.flatMap((batch) => batch.values))).toEqual(['1']);
    // A call with nothing to add resolves at once.
    await expect(accumulator.write('t', 'none', () => undefined)).resolves.toBeUndefined();
  });

  it('tells a caller that asks where each of its records went: the base offset of its partition batch plus its place in it', async () => {
    const bases = new Map([
      ['t\u00000', 100n],
      ['t\u00001', 7n],
    ]);
    const accumulator = new RequestAccumulator(
      async (parts) =>
        parts.map((part) => ({ topic: part.topic, partition: part.partition, baseOffset: bases.get(`${part.topic}\u0000${part.partition}`) ?? 0n, count: part.records.recordCount })),
      { lingerMs: 5, maxBatchBytes: 1_000_000 },
    );
    // another caller's records go first into the same batch of partition 0 (the same request: it lingers)
    const before = write(accumulator, 't', ['x', 'y']);
    const placed = accumulator.writeReporting('t', 'none', (sink) => {
      sink.add(0, 'k', 'a', 1_000);
      sink.add(1, 'k', 'b', 1_000);
      sink.add(0, 'k', 'c', 1_000);
    });
    await before;
    expect(await placed).toEqual([
      { partition: 0, offset: 102n },
      { partition: 1, offset: 7n },
      { partition: 0, offset: 103n },
    ]);
  });
});
