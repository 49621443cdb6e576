/**
 * Event-time candles of kafka-gateway: trades per second aggregated into 1 s, 10 s and 1 min candles.
 *
 *   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/gateway-candles.ts [trades] [brokerTrades]
 *
 * 1. In process, same trades, same run: the baseline is a plain loop keeping float OHLCV + VWAP sums
 *    per symbol and window in a Map (no watermark, no lateness, no exact arithmetic); then the
 *    CandleAggregator (per-partition watermarks, lateness, exact decimal VWAP, deterministic
 *    open/close) flushing every 1,000 trades. Median of 3 rounds after a warm-up, trades per second.
 * 2. Through the local broker (infrastructure up): `brokerTrades` trades written to a 12-partition
 *    topic of this run, then the CandleStream consumes them from a new group, writes the candles to
 *    topics of this run with the typed producer (acks=all) and commits; the figure is trades per second
 *    from the consumer's start to the last commit. The topics are deleted at the end.
 *
 * Results go to bench-results/gateway-candles.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import type { UnderlyingTrade } from '@tributary/contracts';
import { ClusterAdmin, kafkaConnection, ManagedConsumer, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { CandleAggregator, decodeCheckpoint } from '../../apps/kafka-gateway/src/app/candles/candle-aggregator';
import { CandleStream } from '../../apps/kafka-gateway/src/app/candles/candle-stream';

const TRADES = Number(process.argv[2] ?? 1_000_000);
const BROKER_TRADES = Number(process.argv[3] ?? 200_000);
const PARTITIONS = 12;
const SYMBOLS = Array.from({ length: 60 }, (_, index) => `SYM${index}`);
const BASE_S = Math.floor(Date.now() / 1000 / 3600) * 3600 - 6 * 3600;

interface Generated {
  readonly trade: UnderlyingTrade.Value;
  readonly partition: number;
}

/** Trades of 60 symbols at `perSecond` per second of event time, up to 1.5 s out of order. */
function generate(count: number, perSecond: number): Generated[] {
  let state = 12345;
  const next = (): number => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  const prices = SYMBOLS.map(() => 50 + next() * 400);
  const out: Generated[] = [];
  for (let index = 0; index < count; index++) {
    const symbolIndex = Math.floor(next() * SYMBOLS.length);
    prices[symbolIndex] = Math.max(1, prices[symbolIndex] * (1 + (next() - 0.5) * 0.001));
    const ns =
      BigInt(BASE_S) * 1_000_000_000n + BigInt(Math.floor((index / perSecond) * 1e9 - next() * 1.5e9 + 2e9));
    out.push({
      trade: {
        symbol: SYMBOLS[symbolIndex],
        price: Math.round(prices[symbolIndex] * 100) / 100,
        size: 1 + Math.floor(next() * 500),
        exchange: 'Q',
        tradeId: String(index),
        conditions: [],
        ts: ns.toString(),
      },
      partition: symbolIndex % PARTITIONS,
    });
  }
  return out;
}

function plainLoop(trades: readonly Generated[]): number {
  const windows = new Map<
    string,
    {
      open: number;
      high: number;
      low: number;
      close: number;
      volume: number;
      notional: number;
      count: number;
    }
  >();
  for (const { trade } of trades) {
    const seconds = Number(trade.ts.slice(0, -9));
    for (const length of [1, 10, 60]) {
      const key = `${trade.symbol}|${length}|${seconds - (seconds % length)}`;
      const window = windows.get(key);
      if (window === undefined) {
        windows.set(key, {
          open: trade.price,
          high: trade.price,
          low: trade.price,
          close: trade.price,
          volume: trade.size,
          notional: trade.price * trade.size,
          count: 1,
        });
      } else {
        if (trade.price > window.high) window.high = trade.price;
        if (trade.price < window.low) window.low = trade.price;
        window.close = trade.price;
        window.volume += trade.size;
        window.notional += trade.price * trade.size;
        window.count++;
      }
    }
  }
  return windows.size;
}

function aggregated(trades: readonly Generated[]): number {
  const aggregator = new CandleAggregator({
    sourceTopic: 'market.trades',
    outOfOrdernessMs: 2000,
    allowedLatenessMs: 10_000,
  });
  let candles = 0;
  for (let index = 0; index < trades.length; index++) {
    const { trade, partition } = trades[index];
    aggregator.add(trade, { partition, offset: String(index) });
    if (index % 1000 === 999) candles += aggregator.flush().candles.length;
  }
  aggregator.advanceWatermark(Number.MAX_SAFE_INTEGER);
  return candles + aggregator.flush().candles.length;
}

function rate(run: () => number, trades: number): { tradesPerSecond: number; output: number } {
  run(); // warm-up
  const rates: number[] = [];
  let output = 0;
  for (let round = 0; round < 3; round++) {
    const started = process.hrtime.bigint();
    output = run();
    rates.push(trades / (Number(process.hrtime.bigint() - started) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return { tradesPerSecond: Math.round(rates[1]), output };
}

async function throughBroker(trades: readonly Generated[]): Promise<Record<string, number>> {
  const connection = kafkaConnection(
    parseKafkaEnv({ KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092' }),
    'bench-candles',
  );
  const run = `bench-candles-${Date.now().toString(36)}`;
  const names = {
    source: `${run}.trades`,
    '1s': `${run}.candles.1s`,
    '10s': `${run}.candles.10s`,
    '1m': `${run}.candles.1m`,
    late: `${run}.candles.late`,
  };
  const groupId = `${run}-candles`;
  const admin = new ClusterAdmin(connection);
  await admin.ensureConfigs(Object.values(names).map((topic) => ({ topic, numPartitions: PARTITIONS })));
  // The trades as they are, each on the partition of its symbol, acks=all.
  const raw = new TypedProducer(connection, { service: 'bench-candles', validate: false });
  for (let index = 0; index < trades.length; index += 5000) {
    await raw.sendRaw(
      names.source,
      trades
        .slice(index, index + 5000)
        .map(({ trade, partition }) => ({ key: trade.symbol, value: JSON.stringify(trade), partition })),
    );
  }
  await raw.disconnect();

  const producer = new TypedProducer(connection, { service: 'bench-candles', validate: false });
  const stream = new CandleStream(connection, producer, pino({ level: 'warn' }), {
    enabled: true,
    groupId,
    sourceTopic: names.source,
    fromBeginning: true,
    outOfOrdernessMs: 2000,
    allowedLatenessMs: 10_000,
    idlePartitionMs: 0,
    candleTopics: { '1s': names['1s'], '10s': names['10s'], '1m': names['1m'] },
    lateTopic: names.late,
  });
  // The checkpoints the stream commits as offset metadata, read by a member of its group that never
  // joins it (the admin client answers offsets only).
  const commits = new ManagedConsumer(connection, { groupId, topics: [names.source], handle: async () => undefined });
  const partitions = new Map([[names.source, [...Array(PARTITIONS).keys()]]]);
  const started = Date.now();
  stream.onApplicationBootstrap();
  const lastOffset = String(
    Math.max(...[...Array(PARTITIONS).keys()].map((p) => trades.filter((t) => t.partition === p).length)) - 1,
  );
  const perPartitionLast = new Map(
    [...Array(PARTITIONS).keys()].map((p) => [p, String(trades.filter((t) => t.partition === p).length - 1)]),
  );
  for (;;) {
    const committed = await commits.committed(partitions);
    const done = [...perPartitionLast].every(
      ([partition, last]) => decodeCheckpoint(committed.get(`${names.source}:${partition}`)?.metadata)?.lastOffset === last,
    );
    if (done) break;
    if (Date.now() - started > 300_000)
      throw new Error(`not done within 5 minutes (largest partition ends at ${lastOffset})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const seconds = (Date.now() - started) / 1000;
  await commits.stop();
  await stream.onModuleDestroy();
  await producer.disconnect();
  await admin.deleteTopics(Object.values(names)).catch(() => undefined);
  await admin.close();
  return {
    trades: trades.length,
    seconds: Math.round(seconds * 100) / 100,
    tradesPerSecond: Math.round(trades.length / seconds),
  };
}

async function main(): Promise<void> {
  const trades = generate(TRADES, 20_000);
  const baseline = rate(() => plainLoop(trades), TRADES);
  const aggregator = rate(() => aggregated(trades), TRADES);
  const results: Record<string, unknown> = {
    measuredAt: new Date().toISOString(),
    inProcess: {
      trades: TRADES,
      baselinePlainLoop: baseline,
      candleAggregator: aggregator,
      ratioToBaseline: Math.round((aggregator.tradesPerSecond / baseline.tradesPerSecond) * 1000) / 1000,
    },
  };
  console.log(JSON.stringify(results.inProcess));
  if (BROKER_TRADES > 0) {
    results['throughBroker'] = await throughBroker(generate(BROKER_TRADES, 20_000));
    console.log(JSON.stringify(results['throughBroker']));
  }
  mkdirSync(join(process.cwd(), 'bench-results'), { recursive: true });
  writeFileSync(
    join(process.cwd(), 'bench-results', 'gateway-candles.json'),
    JSON.stringify(results, null, 2) + '\n',
  );
}

void main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
