import {
  allTopicSpecs,
  CATALOG,
  changeEventTopic,
  dlqSpecOf,
  kafkaTopicConfig,
  SYMBOL_PARTITIONS,
  TOPIC_NAMES,
  topicSpec,
  type EventOf,
} from './catalog';
import { EVENTS, type Candle, type OptionQuote } from './events';
import { EPOCH_NANOS_PATTERN } from './event-time';
import { dlqTopicOf } from './headers';
import { sampleEvent } from './samples';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('topic catalog', () => {
  it('types each topic with its event: EventOf<"options.quotes"> is OptionQuote.Value', () => {
    const quoteTyped: Same<EventOf<'options.quotes'>, OptionQuote.Value> = true;
    const candleTyped: Same<EventOf<'candles.10s'>, Candle.Value> = true;
    expect([quoteTyped, candleTyped]).toEqual([true, true]);
  });

  it.each(TOPIC_NAMES)('%s has a schema, a key, an event time and a place on the cluster', (name) => {
    const spec = CATALOG[name];
    const sample = sampleEvent(name);
    expect(spec.topic).toBe(name);
    expect((spec.schema as { $id?: string }).$id).toBe(`urn:tributary:schema:${spec.event}:v${spec.version}`);
    expect(EVENTS.some((event) => event.name === spec.event && event.schema === spec.schema)).toBe(true);
    expect(spec.key(sample as never)).toMatch(/.+/);
    expect(spec.eventTime(sample as never)).toMatch(new RegExp(EPOCH_NANOS_PATTERN));
    expect(spec.partitions).toBeGreaterThanOrEqual(1);
    expect(spec.keyDescription).not.toBe('');
    expect(spec.description).not.toBe('');
  });

  it('has no duplicate topic names, DLQs included', () => {
    const names = allTopicSpecs().map((spec) => spec.topic);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('options.quotes.dlq');
    expect(names).not.toContain('options.quotes.dlq.dlq');
  });

  it('gives every topic that dead-letters a <topic>.dlq spec carrying DlqRecord', () => {
    for (const name of TOPIC_NAMES) {
      const spec = CATALOG[name];
      expect(spec.dlq).toBe(true);
      const dlq = topicSpec(dlqTopicOf(name));
      expect(dlq).toMatchObject({
        topic: `${name}.dlq`,
        event: 'DlqRecord',
        dlq: false,
        cleanupPolicy: 'delete',
      });
      if (spec.retentionMs < 0) expect(dlq?.retentionMs).toBe(-1);
      else expect(dlq?.retentionMs).toBeGreaterThanOrEqual(Math.max(spec.retentionMs, 7 * DAY));
    }
  });

  it('keeps retention as documented: ticks 1 h, flow, chains and sentiment 24 h, signals 2 h, ML and risk 7 d, alerts and executions 30 d, CEP side outputs 7 d, CDC 90 d, CEP rules forever', () => {
    const retention = Object.fromEntries(TOPIC_NAMES.map((name) => [name, CATALOG[name].retentionMs]));
    expect(retention).toEqual({
      'market.quotes': HOUR,
      'market.trades': HOUR,
      'market.orderbook': HOUR,
      'options.quotes': HOUR,
      'options.quotes.enriched': HOUR,
      'options.trades': HOUR,
      'options.chains': DAY,
      'options.flow': DAY,
      'news.sentiment': DAY,
      'signals.technical': 2 * HOUR,
      'ml.features': 7 * DAY,
      'ml.predictions': 7 * DAY,
      'risk.metrics': 7 * DAY,
      'candles.1s': 7 * DAY,
      'candles.10s': 7 * DAY,
      'candles.1m': 7 * DAY,
      'candles.late': 7 * DAY,
      'quality.events': 7 * DAY,
      'market.trades.validated': HOUR,
      'cep.alerts': 30 * DAY,
      'cep.rules': -1,
      'cep.side-outputs': 7 * DAY,
      'trading.executions': 30 * DAY,
      'cdc.transactions': 90 * DAY,
    });
    expect(changeEventTopic('cdc', 'public', 'orders').retentionMs).toBe(90 * DAY);
  });

  it('compresses ticks with lz4 and everything else with zstd', () => {
    const ticks = ['market.quotes', 'market.trades', 'market.trades.validated', 'market.orderbook', 'options.quotes', 'options.quotes.enriched', 'options.trades'];
    for (const name of TOPIC_NAMES)
      expect([name, CATALOG[name].compression]).toEqual([name, ticks.includes(name) ? 'lz4' : 'zstd']);
  });

  it('compacts the candle topics, keyed by symbol|windowStart, and the CEP rules, keyed by rule id', () => {
    const compacted = TOPIC_NAMES.filter((name) => CATALOG[name].cleanupPolicy !== 'delete');
    expect(compacted).toEqual(['cep.rules', 'candles.1s', 'candles.10s', 'candles.1m']);
    expect(CATALOG['cep.rules'].cleanupPolicy).toBe('compact');
    expect(CATALOG['cep.rules'].key(sampleEvent('cep.rules'))).toBe('sentiment_price');
    for (const name of compacted.filter((topic) => topic.startsWith('candles.'))) {
      expect(CATALOG[name].cleanupPolicy).toBe('compact,delete');
      expect(CATALOG[name].key(sampleEvent(name) as never)).toBe('AAPL|1742567400000000000');
    }
  });

  it('co-partitions options and market data by the underlying symbol for event-time joins', () => {
    const bySymbol = [
      'market.quotes',
      'market.trades',
      'market.orderbook',
      'options.quotes',
      'options.quotes.enriched',
      'options.trades',
      'options.chains',
      'options.flow',
    ] as const;
    for (const name of bySymbol) {
      expect(CATALOG[name].partitions).toBe(SYMBOL_PARTITIONS);
      expect(CATALOG[name].key(sampleEvent(name) as never)).toBe('AAPL');
    }
    // An option contract is keyed by its underlying, not by the contract symbol.
    expect(
      CATALOG['options.quotes'].key(sampleEvent('options.quotes', { symbol: 'AAPL250417P00200000' })),
    ).toBe('AAPL');
    expect(CATALOG['trading.executions'].key(sampleEvent('trading.executions'))).toBe('AAPL');
  });

  it('orders all transaction boundaries in one partition', () => {
    expect(CATALOG['cdc.transactions'].partitions).toBe(1);
    expect(CATALOG['cdc.transactions'].key(sampleEvent('cdc.transactions'))).toBe('771:24023128');
  });
});

describe('change topics (the CDC template)', () => {
  it('names a table topic <prefix>.<schema>.<table> and keys it by the primary key like Debezium', () => {
    const spec = changeEventTopic('cdc', 'public', 'orders');
    const change = sampleEvent('cdc.public.orders');
    expect(spec.topic).toBe('cdc.public.orders');
    expect(spec.event).toBe('ChangeEvent');
    expect(spec.key(change as never)).toBe('{"id":42}');
  });

  it('keys a delete by the deleted row and a truncate by the table', () => {
    const spec = changeEventTopic('cdc', 'public', 'orders');
    const change = sampleEvent('cdc.public.orders') as Parameters<typeof spec.key>[0];
    expect(spec.key({ ...change, op: 'd', before: { id: 7 }, after: null })).toBe('{"id":7}');
    expect(spec.key({ ...change, op: 't', before: null, after: null })).toBe('public.orders');
  });

  it('takes the event time from the commit time, to the microsecond', () => {
    const spec = changeEventTopic('cdc', 'public', 'orders');
    const change = sampleEvent('cdc.public.orders') as Parameters<typeof spec.key>[0];
    expect(spec.eventTime(change)).toBe('1742567400123456000');
    expect(spec.eventTime({ ...change, source: { ...change.source, ts_us: undefined } })).toBe(
      '1742567400123000000',
    );
  });

  it('refuses schema or table names that are not plain identifiers', () => {
    expect(() => changeEventTopic('cdc', 'public', 'orders; drop')).toThrow(/not a plain SQL identifier/);
    expect(() => changeEventTopic('cdc', 'public', 'orders', [])).toThrow(/primary key/);
  });
});

describe('topicSpec', () => {
  it('knows catalog topics, change topics and their DLQs, and nothing else', () => {
    expect(topicSpec('options.quotes')).toBe(CATALOG['options.quotes']);
    expect(topicSpec('cdc.public.orders')?.event).toBe('ChangeEvent');
    expect(topicSpec('cdc.public.orders.dlq')?.event).toBe('DlqRecord');
    expect(topicSpec('options.quotes.dlq')?.topic).toBe('options.quotes.dlq');
    expect(topicSpec('options.quotes.dlq.dlq')).toBeUndefined();
    expect(topicSpec('market-ticks')).toBeUndefined();
    expect(topicSpec('cdc.public')).toBeUndefined();
  });

  it('returns the same spec object for the same derived name', () => {
    expect(topicSpec('cdc.public.fills')).toBe(topicSpec('cdc.public.fills'));
  });
});

describe('kafkaTopicConfig', () => {
  const asMap = (name: string) => {
    const spec = topicSpec(name);
    if (!spec) throw new Error(name);
    return Object.fromEntries(kafkaTopicConfig(spec).map((entry) => [entry.name, entry.value]));
  };

  it('sets retention, cleanup and compression, and rolls segments fast enough for a 1-hour retention', () => {
    expect(asMap('market.quotes')).toEqual({
      'retention.ms': '3600000',
      'cleanup.policy': 'delete',
      'compression.type': 'lz4',
      'segment.ms': '900000',
    });
  });

  it('lets compaction run on candle topics and keeps revisions readable for a while', () => {
    expect(asMap('candles.1m')).toEqual({
      'retention.ms': String(7 * DAY),
      'cleanup.policy': 'compact,delete',
      'compression.type': 'zstd',
      'segment.ms': String(HOUR),
      'min.compaction.lag.ms': '300000',
      'max.compaction.lag.ms': String(DAY),
      'min.cleanable.dirty.ratio': '0.5',
    });
  });

  it('caps segments at a day for long-retention topics', () => {
    expect(asMap('cep.alerts')['segment.ms']).toBe(String(DAY));
    expect(asMap('cep.alerts.dlq')['retention.ms']).toBe(String(30 * DAY));
  });

  it('keeps a DLQ of a forever topic forever', () => {
    const forever = { ...CATALOG['cep.alerts'], retentionMs: -1 };
    expect(dlqSpecOf(forever).retentionMs).toBe(-1);
    expect(kafkaTopicConfig(forever).map((entry) => entry.name)).not.toContain('segment.ms');
  });
});
