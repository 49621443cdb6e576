import type { Candle, LateTrade, UnderlyingTrade } from '@tributary/contracts';
import { TypedProducer } from '@tributary/kafka';
import { eventually } from '@tributary/testing';
import { CandleAggregator, decodeCheckpoint } from './candle-aggregator';
import { CandleStream, type CandleStreamOptions } from './candle-stream';
import { OwnTopics, quietLogger, rawProducer, readAll, readUntil, type ReadRecord, testConnection, uniqueTopicPrefix } from './candle-topics.testing';
import { seededRandom as random } from '@tributary/testing';

// Event times a few hours back (all valid, none in the future), on a whole minute.
const BASE_S = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3 * 3600;
const ns = (ms: number): string => (BigInt(BASE_S) * 1_000_000_000n + BigInt(Math.round(ms * 1e6))).toString();

function trade(symbol: string, ms: number, price: number, size: number, id: string): UnderlyingTrade.Value {
  return { symbol, price, size, exchange: 'Q', tradeId: id, conditions: [], ts: ns(ms) };
}

function latestByKey(records: readonly ReadRecord[]): Map<string, Candle.Value> {
  const latest = new Map<string, Candle.Value>();
  for (const record of records) latest.set(record.key ?? '', JSON.parse(record.value ?? 'null') as Candle.Value);
  return latest;
}

describe('event-time candles on the real broker', () => {
  const connection = testConnection();
  let topics: OwnTopics;
  let raw: TypedProducer;
  let producer: TypedProducer;
  const streams: CandleStream[] = [];

  beforeAll(async () => {
    topics = new OwnTopics(connection);
    raw = rawProducer(connection);
    producer = new TypedProducer(testConnection(), { service: 'kafka-gateway-it', lingerMs: 2 });
  });

  afterAll(async () => {
    for (const stream of streams) await stream.onModuleDestroy();
    await producer?.disconnect();
    await raw?.disconnect();
    await topics?.cleanup();
  });

  async function setUp(prefix: string, partitions: number, tuning: Partial<CandleStreamOptions> = {}) {
    const names = {
      source: `${prefix}.trades`,
      candles: { '1s': `${prefix}.candles.1s`, '10s': `${prefix}.candles.10s`, '1m': `${prefix}.candles.1m` } as const,
      late: `${prefix}.candles.late`,
    };
    await topics.create([
      { topic: names.source, partitions },
      { topic: names.candles['1s'] },
      { topic: names.candles['10s'] },
      { topic: names.candles['1m'] },
      { topic: names.late },
    ]);
    const options: CandleStreamOptions = {
      enabled: true,
      groupId: `${prefix}-candles`,
      sourceTopic: names.source,
      fromBeginning: true,
      outOfOrdernessMs: 2000,
      allowedLatenessMs: 5000,
      idlePartitionMs: 0,
      candleTopics: names.candles,
      lateTopic: names.late,
      ...tuning,
    };
    return { names, options };
  }

  async function startStream(options: CandleStreamOptions): Promise<CandleStream> {
    const stream = new CandleStream(testConnection(), producer, quietLogger(), options);
    streams.push(stream);
    stream.onApplicationBootstrap();
    await eventually(() => stream.status().groupJoined, 'the candle consumer to join its group');
    return stream;
  }

  /** The checkpoint the candle stream committed with each partition of its input. */
  async function checkpoints(options: CandleStreamOptions) {
    const committed = await topics.committed(options.groupId, options.sourceTopic);
    return new Map(committed.map((entry) => [entry.partition, decodeCheckpoint(entry.metadata)]));
  }

  /**
   * Waits until the stream has processed every trade written so far and committed behind it: its
   * candles and late reports are then all acknowledged by the brokers, and no further one can come.
   */
  async function processedEverything(options: CandleStreamOptions): Promise<void> {
    const ends = (await topics.ends(options.sourceTopic)).filter(({ high }) => high !== '0');
    await eventually(
      async () => {
        const byPartition = await checkpoints(options);
        return ends.every(({ partition, high }) => byPartition.get(partition)?.lastOffset === String(BigInt(high) - 1n));
      },
      `the candle stream to process every trade of ${options.sourceTopic}`,
    );
  }

  async function send(topic: string, trades: readonly { trade: UnderlyingTrade.Value; partition: number }[]): Promise<void> {
    await raw.sendRaw(
      topic,
      trades.map(({ trade: value, partition }) => ({ key: value.symbol, value: JSON.stringify(value), partition })),
    );
  }

  it('turns trades on the input topic into 1 s, 10 s and 1 min candles equal to an in-process aggregation of the same trades', async () => {
    const { names, options } = await setUp(uniqueTopicPrefix('candles'), 2);
    const next = random(42);
    const symbols = [
      { symbol: 'AAA', partition: 0 },
      { symbol: 'BBB', partition: 1 },
      { symbol: 'CCC', partition: 1 },
    ];
    const trades: { trade: UnderlyingTrade.Value; partition: number }[] = [];
    for (let i = 0; i < 600; i++) {
      const { symbol, partition } = symbols[i % symbols.length];
      trades.push({ trade: trade(symbol, i * 130 + next() * 100, Math.round((50 + next() * 2) * 100) / 100, 1 + Math.floor(next() * 300), `t${i}`), partition });
    }
    // Arrival within the 2 s bound: event time plus up to 1.9 s.
    const arrival = trades
      .map((entry) => ({ entry, at: BigInt(entry.trade.ts) + BigInt(Math.floor(next() * 1_900_000_000)) }))
      .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
      .map(({ entry }) => entry);
    // One trade per partition 5 minutes later carries the watermark past every window above.
    const closers = [
      { trade: trade('AAA', 400_000, 50, 1, 'closer-0'), partition: 0 },
      { trade: trade('BBB', 400_000, 50, 1, 'closer-1'), partition: 1 },
    ];

    const expected = new CandleAggregator({ sourceTopic: names.source, outOfOrdernessMs: 2000, allowedLatenessMs: 5000 });
    trades.forEach((entry, index) => expected.add(entry.trade, { partition: entry.partition, offset: String(index) }));
    expected.advanceWatermark((BASE_S + 400 - 2) * 1_000_000);
    const wanted = new Map(expected.flush().candles.map((candle) => [`${candle.interval}|${candle.symbol}|${candle.windowStart}`, candle]));

    await startStream(options);
    for (let index = 0; index < arrival.length; index += 50) await send(names.source, arrival.slice(index, index + 50));
    await send(names.source, closers);
    await processedEverything(options);

    for (const interval of ['1s', '10s', '1m'] as const) {
      const count = [...wanted.values()].filter((candle) => candle.interval === interval).length;
      expect(count).toBeGreaterThan(0);
      const records = await readAll(connection, names.candles[interval]);
      const got = latestByKey(records);
      expect(records.length).toBe(count); // within the bound, each window once
      for (const [key, candle] of got) {
        expect(key).toBe(`${candle.symbol}|${candle.windowStart}`);
        expect(candle).toEqual(wanted.get(`${interval}|${key}`));
      }
      expect(records[0].headers['schema.name']).toBe('Candle');
    }
  });

  it('re-emits a corrected candle for a late trade within the allowed lateness and reports a later one on the late topic', async () => {
    const { names, options } = await setUp(uniqueTopicPrefix('candles-late'), 1, { outOfOrdernessMs: 500, allowedLatenessMs: 5000 });
    await startStream(options);
    const on0 = (value: UnderlyingTrade.Value) => ({ trade: value, partition: 0 });
    await send(names.source, [on0(trade('LATE', 200, 10, 10, 'a')), on0(trade('LATE', 2000, 11, 10, 'b'))]);
    await readUntil(connection, names.candles['1s'], (read) => read.length >= 1, 'the first candle');
    await send(names.source, [on0(trade('LATE', 700, 9, 30, 'c'))]); // late by 1.3 s: corrects [0, 1)
    await send(names.source, [on0(trade('LATE', 9000, 11, 1, 'd'))]); // watermark 8.5 s: [0, 1) closes at 6 s
    await send(names.source, [on0(trade('LATE', 900, 99, 1, 'too-late'))]);
    await send(names.source, [on0(trade('LATE', 80_000, 11, 1, 'e'))]);
    await processedEverything(options);

    const candles = await readAll(connection, names.candles['1s']);
    expect(candles.map((record) => record.key)).toContain(`LATE|${ns(9000)}`);
    const first = candles.filter((record) => record.key === `LATE|${ns(0)}`).map((record) => JSON.parse(record.value ?? '') as Candle.Value);
    expect(first.map((c) => [c.revision, c.trades, c.volume, c.low, c.close])).toEqual([
      [0, 1, 10, 10, 10],
      [1, 2, 40, 9, 9],
    ]);
    const late = await readAll(connection, names.late);
    expect(late).toHaveLength(1);
    const report = JSON.parse(late[0].value ?? '') as LateTrade.Value;
    expect(report).toMatchObject({ symbol: 'LATE', tradeId: 'too-late', missed: [{ interval: '1s', windowStart: ns(0) }], allowedLatenessMs: 5000 });
    expect(late[0].headers['idempotency.key']).toBe(`late:${names.source}:0:${report.source.offset}`);
    // The 10 s window was still open: it counts the trade the 1 s window could not.
    const tens = latestByKey(await readAll(connection, names.candles['10s']));
    expect(tens.get(`LATE|${ns(0)}`)).toMatchObject({ trades: 5, high: 99 });
  });

  it('resumes after a restart from the committed offset and its checkpoint, changing no closed candle', async () => {
    const { names, options } = await setUp(uniqueTopicPrefix('candles-restart'), 1, { outOfOrdernessMs: 1000, allowedLatenessMs: 3000 });
    const next = random(7);
    const trades = Array.from({ length: 400 }, (_, i) =>
      trade('RST', i * 250 + Math.floor(next() * 200), Math.round((20 + next()) * 100) / 100, 1 + Math.floor(next() * 50), `r${i}`),
    );
    const expected = new CandleAggregator({ sourceTopic: names.source, outOfOrdernessMs: 1000, allowedLatenessMs: 3000 });
    trades.forEach((value, index) => expected.add(value, { partition: 0, offset: String(index) }));
    expected.advanceWatermark((BASE_S + 99) * 1_000_000);
    const wanted = expected.flush().candles.filter((candle) => candle.interval === '1s');

    const first = await startStream(options);
    await send(names.source, trades.slice(0, 230).map((value) => ({ trade: value, partition: 0 })));
    await eventually(
      async () => (await checkpoints(options)).get(0)?.lastOffset === '229',
      'the first life to commit offset 229',
    );
    const [committed] = await topics.committed(options.groupId, names.source);
    expect(Number(committed.offset)).toBeLessThan(230); // behind the windows still open
    await first.onModuleDestroy();

    await startStream(options);
    await send(names.source, [...trades.slice(230), trade('RST', 200_000, 20, 1, 'closer')].map((value) => ({ trade: value, partition: 0 })));
    await processedEverything(options);
    const got = latestByKey(await readAll(connection, names.candles['1s']));
    for (const candle of wanted) expect(got.get(`${candle.symbol}|${candle.windowStart}`)).toEqual(candle);
  });
});
