import { CompressionTypes, type Message } from 'kafkajs';
import { type CoalescedRequest, estimateMessageBytes, SendCoalescer } from './send-coalescer';

/** A stand-in for the broker round trip: records each request and lets the test decide when it completes. */
class RecordingSender {
  readonly requests: CoalescedRequest[] = [];
  private readonly pending: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  autoAck = true;

  readonly send = (request: CoalescedRequest): Promise<void> => {
    this.requests.push(request);
    if (this.autoAck) return Promise.resolve();
    return new Promise<void>((resolve, reject) => this.pending.push({ resolve, reject }));
  };

  ackNext(): void {
    this.pending.shift()?.resolve();
  }

  failNext(error: Error): void {
    this.pending.shift()?.reject(error);
  }
}

function messages(count: number, prefix = 'm', valueBytes = 10): Message[] {
  return Array.from({ length: count }, (_, index) => ({
    key: `${prefix}${index}`,
    value: 'x'.repeat(valueBytes),
    headers: { 'schema.version': '1' },
  }));
}

const flushMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SendCoalescer', () => {
  afterEach(() => jest.useRealTimers());

  it('coalesces many concurrent sends within the linger into one request', async () => {
    jest.useFakeTimers();
    const sender = new RecordingSender();
    const coalescer = new SendCoalescer(sender.send, { lingerMs: 5, maxBatchBytes: 1_000_000 });
    const sends = Array.from({ length: 100 }, (_, index) =>
      coalescer.enqueue(index % 2 === 0 ? 'market.quotes' : 'market.trades', CompressionTypes.LZ4, messages(3, `k${index}-`)),
    );
    expect(sender.requests).toHaveLength(0);
    jest.advanceTimersByTime(5);
    await Promise.all(sends);
    expect(sender.requests).toHaveLength(1);
    const [request] = sender.requests;
    expect(request.messageCount).toBe(300);
    expect(request.compression).toBe(CompressionTypes.LZ4);
    expect(request.topicMessages.map((entry) => [entry.topic, entry.messages.length])).toEqual([
      ['market.quotes', 150],
      ['market.trades', 150],
    ]);
  });

  it('keeps the order of the calls within a topic', async () => {
    jest.useFakeTimers();
    const sender = new RecordingSender();
    const coalescer = new SendCoalescer(sender.send, { lingerMs: 5, maxBatchBytes: 1_000_000 });
    const sends = [
      coalescer.enqueue('market.trades', CompressionTypes.None, messages(2, 'a')),
      coalescer.enqueue('market.trades', CompressionTypes.None, messages(2, 'b')),
    ];
    jest.advanceTimersByTime(5);
    await Promise.all(sends);
    expect(sender.requests[0].topicMessages[0].messages.map((message) => message.key)).toEqual(['a0', 'a1', 'b0', 'b1']);
  });

  it('sends at once when the waiting messages reach the batch size, without waiting for the linger', async () => {
    const sender = new RecordingSender();
    const size = estimateMessageBytes(messages(1)[0]);
    const coalescer = new SendCoalescer(sender.send, { lingerMs: 60_000, maxBatchBytes: size * 10 });
    const first = coalescer.enqueue('market.trades', CompressionTypes.None, messages(4));
    expect(sender.requests).toHaveLength(0);
    const second = coalescer.enqueue('market.trades', CompressionTypes.None, messages(6));
    await Promise.all([first, second]);
    expect(sender.requests).toHaveLength(1);
    expect(sender.requests[0].messageCount).toBe(10);
  });

  it('splits one large call into requests no larger than the batch size, resolving when all are acknowledged', async () => {
    const sender = new RecordingSender();
    const coalescer = new SendCoalescer(sender.send, { lingerMs: 0, maxBatchBytes: 2_000 });
    const batch = messages(100, 'k', 100);
    await coalescer.enqueue('market.trades', CompressionTypes.None, batch);
    expect(sender.requests.length).toBeGreaterThan(1);
    for (const request of sender.requests) expect(request.bytes).toBeLessThanOrEqual(2_000);
    const sent = sender.requests.flatMap((request) => request.topicMessages.flatMap((entry) => entry.messages));
    expect(sent.map((message) => message.key)).toEqual(batch.map((message) => message.key));
  });

  it('keeps one request in flight and sends what queued meanwhile as the next one', async () => {
    const sender = new RecordingSender();
    sender.autoAck = false;
    const coalescer = new SendCoalescer(sender.send, { lingerMs: 0, maxBatchBytes: 1_000_000 });
    const first = coalescer.enqueue('market.trades', CompressionTypes.None, messages(1, 'first'));
    const second = coalescer.enqueue('market.trades', CompressionTypes.None, messages(1, 'second'));
    const third = coalescer.enqueue('market.trades', CompressionTypes.None, messages(1, 'third'));
    expect(sender.requests).toHaveLength(1);
    sender.ackNext();
    await first;
    await flushMicrotasks();
    expect(sender.requests).toHaveLength(2);
    expect(sender.requests[1].messageCount).toBe(2);
    sender.ackNext();
    await Promise.all([second, third]);
  });

  it('rejects the callers whose messages were in a failed request, and only those', async () => {
    const sender = new RecordingSender();
    sender.autoAck = false;
    const coalescer = new SendCoalescer(sender.send, { lingerMs: 0, maxBatchBytes: 1_000_000 });
    const lost = coalescer.enqueue('market.trades', CompressionTypes.None, messages(1));
    const next = coalescer.enqueue('market.trades', CompressionTypes.None, messages(1));
    sender.failNext(new Error('NOT_ENOUGH_REPLICAS'));
    await expect(lost).rejects.toThrow('NOT_ENOUGH_REPLICAS');
    await flushMicrotasks();
    sender.ackNext();
    await expect(next).resolves.toBeUndefined();
  });

  it('sends each compression codec in requests of its own', async () => {
    jest.useFakeTimers();
    const sender = new RecordingSender();
    const coalescer = new SendCoalescer(sender.send, { lingerMs: 5, maxBatchBytes: 1_000_000 });
    const sends = [
      coalescer.enqueue('market.trades', CompressionTypes.LZ4, messages(1)),
      coalescer.enqueue('options.chains', CompressionTypes.ZSTD, messages(1)),
    ];
    jest.advanceTimersByTime(5);
    await Promise.all(sends);
    expect(sender.requests.map((request) => request.compression).sort()).toEqual([
      CompressionTypes.LZ4,
      CompressionTypes.ZSTD,
    ]);
  });

  it('flush sends what is waiting without the linger and resolves when nothing is left', async () => {
    const sender = new RecordingSender();
    const coalescer = new SendCoalescer(sender.send, { lingerMs: 60_000, maxBatchBytes: 1_000_000 });
    const send = coalescer.enqueue('market.trades', CompressionTypes.None, messages(5));
    await coalescer.flush();
    await send;
    expect(sender.requests).toHaveLength(1);
    expect(coalescer.idle).toBe(true);
  });

  it('never modifies the arrays callers passed in', async () => {
    jest.useFakeTimers();
    const sender = new RecordingSender();
    const coalescer = new SendCoalescer(sender.send, { lingerMs: 5, maxBatchBytes: 1_000_000 });
    const first = messages(2, 'a');
    const second = messages(2, 'b');
    const sends = [
      coalescer.enqueue('market.trades', CompressionTypes.None, first),
      coalescer.enqueue('market.trades', CompressionTypes.None, second),
    ];
    jest.advanceTimersByTime(5);
    await Promise.all(sends);
    expect(first.map((message) => message.key)).toEqual(['a0', 'a1']);
    expect(second.map((message) => message.key)).toEqual(['b0', 'b1']);
  });

  it('estimates a message from its value, key and headers', () => {
    const small = estimateMessageBytes({ key: 'k', value: 'v', headers: {} });
    const big = estimateMessageBytes({ key: 'k', value: 'v'.repeat(1000), headers: { a: 'b'.repeat(100) } });
    expect(big - small).toBeGreaterThanOrEqual(1000 + 100);
    expect(estimateMessageBytes({ key: null, value: Buffer.alloc(50) })).toBeGreaterThanOrEqual(50);
  });
});
