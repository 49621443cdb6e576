import { CATALOG, HEADERS, sampleEvent, type EventOf, type TopicSpec, ValidationError } from '@tributary/contracts';
import { quietLogger, readRecords, testConnection, TestTopics, uniqueName } from '../../testing/kafka-test-kit';
import { partitionOfKey } from './partitioner';
import { TypedProducer } from './typed-producer';

type Quote = EventOf<'market.quotes'>;

describe('TypedProducer against the real broker', () => {
  const topics = new TestTopics();

  afterAll(() => topics.cleanup());

  function quotesSpec(topic: string): TopicSpec {
    return { ...CATALOG['market.quotes'], topic };
  }

  it('many concurrent sends travel in few requests, and every symbol keeps its partition and its order', async () => {
    const topic = await topics.create(uniqueName('it-coalesce'), 6);
    const producer = new TypedProducer(testConnection(), { service: 'kafka-it', logger: quietLogger(), lingerMs: 5 });
    const symbols = ['AAPL', 'MSFT', 'SPY', 'QQQ', 'NVDA', 'TSLA', 'AMZN', 'META'];
    const quotes: Quote[] = Array.from({ length: 2_000 }, (_, index) =>
      sampleEvent('market.quotes', {
        symbol: symbols[index % symbols.length],
        ts: String(1742567400000000000n + BigInt(index)),
      }),
    );
    try {
      await Promise.all(quotes.map((quote) => producer.sendTo(quotesSpec(topic), [quote])));
      expect(producer.stats.records).toBe(2_000);
      expect(producer.stats.requests).toBeLessThan(100);
    } finally {
      await producer.disconnect();
    }

    const records = await readRecords(testConnection(), topic, quotes.length);
    const partitionOf = new Map<string, Set<number>>();
    const timesOf = new Map<string, string[]>();
    for (const record of records) {
      const quote = JSON.parse(record.value?.toString() ?? '{}') as Quote;
      expect(record.key).toBe(quote.symbol);
      expect(record.headers[HEADERS.eventTime]).toBe(quote.ts);
      partitionOf.set(quote.symbol, (partitionOf.get(quote.symbol) ?? new Set()).add(record.partition));
      timesOf.set(quote.symbol, [...(timesOf.get(quote.symbol) ?? []), quote.ts]);
    }
    for (const symbol of symbols) {
      // The partition Kafka's Java producer picks for the key (murmur2), so co-partitioned topics line up.
      expect([...(partitionOf.get(symbol) ?? [])]).toEqual([partitionOfKey(symbol, 6)]);
      const times = timesOf.get(symbol) ?? [];
      expect(times).toEqual([...times].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)));
      expect(times).toHaveLength(2_000 / symbols.length);
    }
  });

  it('a send with an event that fails the catalog schema is refused whole, before anything is written', async () => {
    const topic = await topics.create(uniqueName('it-refused'));
    const producer = new TypedProducer(testConnection(), { service: 'kafka-it', logger: quietLogger(), validate: true });
    const valid = sampleEvent('market.quotes');
    const crossed = { ...valid, bidPrice: -1 };
    try {
      await expect(producer.sendTo(quotesSpec(topic), [valid, crossed])).rejects.toThrow(ValidationError);
      await expect(producer.sendTo(quotesSpec(topic), [valid, crossed])).rejects.toThrow(/\/bidPrice/);
      await producer.sendTo(quotesSpec(topic), [{ value: valid, correlationId: 'corr-after' }]);
    } finally {
      await producer.disconnect();
    }
    const [only] = await readRecords(testConnection(), topic, 1);
    expect(only.headers[HEADERS.correlationId]).toBe('corr-after');
    const [partition] = await topics.admin.topicOffsets(topic);
    expect(partition?.high).toBe('1');
  });

  it('raw records go out as given: key, value, repeated headers, an explicit partition and timestamp', async () => {
    const topic = await topics.create(uniqueName('it-raw'), 3);
    const producer = new TypedProducer(testConnection(), { service: 'kafka-it', logger: quietLogger() });
    try {
      await producer.sendRaw(topic, [
        {
          key: Buffer.from('binary-key'),
          value: '{"n":1}',
          headers: { 'dlq.reason': ['first', 'second'], origin: Buffer.from('orders') },
          partition: 2,
          timestamp: '1767225600000',
        },
        { key: null, value: null },
      ]);
    } finally {
      await producer.disconnect();
    }
    const records = await readRecords(testConnection(), topic, 2);
    const withKey = records.find((record) => record.key === 'binary-key');
    expect(withKey).toMatchObject({ partition: 2, timestamp: '1767225600000', value: Buffer.from('{"n":1}') });
    expect(withKey?.headers['origin']).toBe('orders');
    const tombstone = records.find((record) => record.key === null);
    expect(tombstone?.value).toBeNull();
  });

  it('values serialised by the caller go out as given, with the contract headers from the spec and the record\'s own', async () => {
    const topic = await topics.create(uniqueName('it-encoded'), 2);
    const producer = new TypedProducer(testConnection(), { service: 'kafka-it', instanceId: 'enc', logger: quietLogger() });
    const spec = quotesSpec(topic);
    try {
      await producer.sendEncoded(spec, [
        {
          key: 'AAPL',
          value: '{"symbol":"AAPL","exact":12345678901234567890}',
          eventTime: '1767225600000000001',
          correlationId: 'corr-enc',
          idempotencyKey: 'lsn-1:0',
          headers: { 'changed.by': 'desk-7', [HEADERS.producer]: 'not/this' },
        },
      ]);
    } finally {
      await producer.disconnect();
    }
    const [record] = await readRecords(testConnection(), topic, 1);
    expect(record?.value?.toString()).toBe('{"symbol":"AAPL","exact":12345678901234567890}');
    expect(record?.partition).toBe(partitionOfKey('AAPL', 2));
    expect(record?.headers).toEqual({
      [HEADERS.schemaName]: spec.event,
      [HEADERS.schemaVersion]: String(spec.version),
      [HEADERS.producer]: 'kafka-it/enc',
      [HEADERS.eventTime]: '1767225600000000001',
      [HEADERS.correlationId]: 'corr-enc',
      [HEADERS.idempotencyKey]: 'lsn-1:0',
      'changed.by': 'desk-7',
    });
  });

  it('a producer keeps sending after a topic it once wrote to was deleted', async () => {
    const doomed = await topics.create(uniqueName('it-doomed'));
    const next = await topics.create(uniqueName('it-after-delete'));
    const producer = new TypedProducer(testConnection(), { service: 'kafka-it', logger: quietLogger() });
    try {
      await producer.sendRaw(doomed, [{ key: 'k', value: '{"n":1}' }]);
      await topics.admin.deleteTopics([doomed]);
      await producer.sendRaw(next, [{ key: 'k', value: '{"n":2}' }]);
    } finally {
      await producer.disconnect();
    }
    const [record] = await readRecords(testConnection(), next, 1);
    expect(record.value?.toString()).toBe('{"n":2}');
  }, 180_000);
});
