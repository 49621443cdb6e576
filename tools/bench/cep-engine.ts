/**
 * CEP engine throughput, in process, on one core, in two scenarios each measured against a baseline of
 * the same replay through the watermark/reorder stage alone (same run, same machine):
 *
 * - realistic: a synthetic market replay of 300 symbols over 8 partitions (quotes, trades and a few
 *   sentiment scores; random-walk prices, slightly out of order, with rare short shocks), through five
 *   patterns shaped like the built-in ones (MOMENTUM_SURGE, VOLUME_ANOMALY, LIQUIDITY_DRAIN,
 *   PRICE_DIVERGENCE, SENTIMENT_PRICE as a YAML rule) with five windowed aggregates. Matches are rare.
 * - match-heavy: 200 symbols of trades through patterns that match or time out on a large share of
 *   events (about one output per two events), to measure the cost of partial matches and outputs.
 * - builtins: the ten built-in patterns as their default rules (`defaultRules()`, one engine per rule
 *   as the cep-engine service runs them, each fed the records of its input topics) on a replay mixed
 *   like the simulator's output: underlying quotes 20 : trades 8 : option quotes 60 : option trades
 *   12, plus options.flow (4% of option trades), a chain snapshot and a 1 s candle per underlying per
 *   second, news and CDC position/limit changes; 20 underlyings at 4,000 events/s of market time. The
 *   baseline is the same dispatch into engines without patterns (reorder stage only).
 *
 *   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/cep-engine.ts [events] [rounds] [scenario]
 *
 * To profile, add `--cpu-prof` before `-r` and name one scenario: with the default 3 rounds the
 * profile is dominated by the engine, not by module loading or the replay.
 *
 * Each figure is the median of `rounds` runs (default 3) after a warm-up, as events per CPU second of
 * the process (all its threads, so garbage collection helpers count: a per-core figure that a busy
 * shared machine distorts less than wall-clock time, also reported); results go to
 * bench-results/cep-engine.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AfterMatchSkip,
  CepEngine,
  compileRule,
  defaultRules,
  Pattern,
  patternFromYaml,
  type AggregateSpec,
  type CepEngineOptions,
  type CepEvent,
  type CepRecord,
  type CompiledRule,
  type PatternSpec,
} from '@tributary/cep';
import { seededRandom as prng } from '@tributary/testing';

const MS = 1_000_000;
const events = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 3);
/** Run only this scenario (realistic, match-heavy or builtins), e.g. under a profiler. */
const only = process.argv[4];

// ---------------------------------------------------------------- realistic market replay

interface MarketEvent {
  kind: 'trade' | 'quote' | 'sentiment';
  symbol: string;
  /** Trade price, or the mid price at the time of a quote or sentiment score. */
  px: number;
  size: number;
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  /** News sentiment in [-1, 1] (sentiment events only). */
  score: number;
}

const SYMBOLS = 300;
const PARTITIONS = 8;

/**
 * About 100k events/s of market time (10 µs apart on average), quotes 70%, trades 29.9%, sentiment
 * 0.1%, symbols' activity skewed (the busiest ~30 times the quietest); each mid follows a random walk
 * of about 2 bp per second of market time, whatever the symbol's activity. Once in ~20,000 events a symbol
 * gets a shock for its next 30 events: a 3% move in one direction, five-fold trade sizes, spreads four
 * times wider and thin books. Arrival is out of order by up to 1 ms per partition.
 */
function marketReplay(count: number): CepRecord<MarketEvent>[] {
  const random = prng(2024);
  const mid = new Float64Array(SYMBOLS);
  const shockLeft = new Int32Array(SYMBOLS);
  const shockDrift = new Float64Array(SYMBOLS);
  const weight = new Float64Array(SYMBOLS);
  for (let s = 0; s < SYMBOLS; s++) {
    mid[s] = 20 + random() * 480;
    weight[s] = 1 / (s + 10); // a few busy symbols, a long quiet tail
  }
  const cumulative = new Float64Array(SYMBOLS);
  let total = 0;
  for (let s = 0; s < SYMBOLS; s++) cumulative[s] = total += weight[s];
  // Each mid moves about 2 bp per second of market time however busy the symbol (uniform steps).
  const step = new Float64Array(SYMBOLS);
  for (let s = 0; s < SYMBOLS; s++) step[s] = 0.0002 / Math.sqrt((weight[s] / total) * 100_000) / 0.2887;
  const pick = (): number => {
    const x = random() * total;
    let lo = 0;
    let hi = SYMBOLS - 1;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (cumulative[m] < x) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
  const names = Array.from({ length: SYMBOLS }, (_, s) => `SYM${String(s).padStart(3, '0')}`);
  const offsets = new Array<number>(PARTITIONS).fill(0);
  const out: CepRecord<MarketEvent>[] = [];
  for (let i = 0; i < count; i++) {
    const s = pick();
    if (shockLeft[s] === 0 && random() < 1 / 20_000) {
      shockLeft[s] = 30;
      shockDrift[s] = (random() < 0.5 ? -1 : 1) * 0.001;
    }
    const shocked = shockLeft[s] > 0;
    if (shocked) shockLeft[s]--;
    mid[s] *= 1 + (random() - 0.5) * step[s] + (shocked ? shockDrift[s] : 0);
    const halfSpread = mid[s] * 0.0001 * (1 + random()) * (shocked ? 4 : 1);
    const roll = random();
    const kind = roll < 0.7 ? 'quote' : roll < 0.999 ? 'trade' : 'sentiment';
    const depth = shocked ? 0.2 : 1;
    const event: MarketEvent = {
      kind,
      symbol: names[s],
      px: kind === 'trade' ? mid[s] + (random() - 0.5) * 2 * halfSpread : mid[s],
      size: kind === 'trade' ? Math.floor((1 + random() * 4) * 100 * (shocked ? 5 : 1)) : 0,
      bid: mid[s] - halfSpread,
      ask: mid[s] + halfSpread,
      bidSize: kind === 'quote' ? Math.floor((5 + random() * 10) * 100 * depth) : 0,
      askSize: kind === 'quote' ? Math.floor((5 + random() * 10) * 100 * depth) : 0,
      score: kind === 'sentiment' ? random() * 2 - 1 : 0,
    };
    const partition = s % PARTITIONS;
    out.push({ event, ts: i * 10_000 + Math.floor(random() * 1_000_000), topic: 'market.events', partition, offset: String(offsets[partition]++) });
  }
  return out;
}

const isTrade = (e: MarketEvent): boolean => e.kind === 'trade';
const isQuote = (e: MarketEvent): boolean => e.kind === 'quote';

const marketAggregates: AggregateSpec<MarketEvent>[] = [
  { name: 'px', windowNs: 1_000 * MS, value: (e) => (e.kind === 'trade' ? e.px : undefined), weight: (e) => e.size },
  { name: 'size', windowNs: 5_000 * MS, value: (e) => (e.kind === 'trade' ? e.size : undefined) },
  { name: 'spread', windowNs: 5_000 * MS, value: (e) => (e.kind === 'quote' ? e.ask - e.bid : undefined) },
  { name: 'depth', windowNs: 5_000 * MS, value: (e) => (e.kind === 'quote' ? e.bidSize + e.askSize : undefined) },
  { name: 'mid', windowNs: 50 * MS, value: (e) => (e.kind === 'quote' ? (e.bid + e.ask) / 2 : undefined) },
];

const marketPatterns: PatternSpec<MarketEvent>[] = [
  {
    // A price move of more than 4 standard deviations, then a trade five times the usual size.
    id: 'MOMENTUM_SURGE',
    version: 1,
    pattern: Pattern.begin<MarketEvent>('move', AfterMatchSkip.skipPastLastEvent())
      .where((e, ctx) => {
        if (e.kind !== 'trade') return false;
        const px = ctx.aggregate('px');
        return px.count >= 20 && Math.abs(px.zscore(e.px)) > 4;
      })
      .followedBy('volume')
      .where((e, ctx) => e.kind === 'trade' && e.size > 5 * ctx.aggregate('size').mean)
      .within(500 * MS),
  },
  {
    // Three trades each more than 4 standard deviations above the usual size within 2 s.
    id: 'VOLUME_ANOMALY',
    version: 1,
    pattern: Pattern.begin<MarketEvent>('block', AfterMatchSkip.skipPastLastEvent())
      .where((e, ctx) => {
        if (e.kind !== 'trade') return false;
        const size = ctx.aggregate('size');
        return size.count >= 20 && size.zscore(e.size) > 4;
      })
      .times(3)
      .within(2_000 * MS),
  },
  {
    // A spread three times wider than usual, then at least two quotes with less than a third of the usual depth.
    id: 'LIQUIDITY_DRAIN',
    version: 1,
    pattern: Pattern.begin<MarketEvent>('wide', AfterMatchSkip.skipPastLastEvent())
      .where((e, ctx) => {
        if (e.kind !== 'quote') return false;
        const spread = ctx.aggregate('spread');
        return spread.count >= 20 && e.ask - e.bid > 3 * spread.mean;
      })
      .followedBy('thin')
      .where((e, ctx) => isQuote(e) && e.bidSize + e.askSize < ctx.aggregate('depth').mean / 3)
      .timesOrMore(2)
      .within(1_000 * MS),
  },
  {
    // Two trades more than 0.5% away from the mid quoted over the last 50 ms, within 200 ms.
    id: 'PRICE_DIVERGENCE',
    version: 1,
    pattern: Pattern.begin<MarketEvent>('away', AfterMatchSkip.skipPastLastEvent())
      .where((e, ctx) => {
        if (!isTrade(e)) return false;
        const mid = ctx.aggregate('mid');
        return mid.count >= 3 && Math.abs(e.px - mid.mean) > 0.005 * mid.mean;
      })
      .times(2)
      .within(200 * MS),
  },
  {
    // Sentiment below -0.5, then a trade more than 2% below the price at the time of the score.
    id: 'SENTIMENT_PRICE',
    version: 1,
    pattern: patternFromYaml<MarketEvent>(`
stages:
  - name: negative
    where:
      all:
        - { field: kind, op: "==", to: { value: sentiment } }
        - { field: score, op: "<", to: { value: -0.5 } }
  - name: drop
    where:
      all:
        - { field: kind, op: "==", to: { value: trade } }
        - { field: px, op: "<", to: { stage: negative, field: px, factor: 0.98 } }
within: 600000000000
skip: { kind: skipPastLastEvent }
`),
  },
];

// ---------------------------------------------------------------- match-heavy replay

interface Trade {
  symbol: string;
  px: number;
  size: number;
  sentiment: number;
}

function tradeReplay(count: number): CepRecord<Trade>[] {
  const random = prng(42);
  const px = new Float64Array(200).fill(100);
  const offsets = [0, 0, 0, 0];
  const out: CepRecord<Trade>[] = [];
  for (let i = 0; i < count; i++) {
    const s = Math.floor(random() * 200);
    px[s] *= 1 + (random() - 0.5) * 0.01;
    const partition = s % 4;
    out.push({
      event: { symbol: `SYM${s}`, px: px[s], size: Math.floor(random() * 1_000), sentiment: random() * 2 - 1 },
      ts: i * 10_000 + Math.floor(random() * 2_000_000),
      topic: 'market.trades',
      partition,
      offset: String(offsets[partition]++),
    });
  }
  return out;
}

const heavyPatterns: PatternSpec<Trade>[] = [
  {
    id: 'MOMENTUM_SURGE',
    version: 1,
    pattern: Pattern.begin<Trade>('move')
      .where((t, ctx) => ctx.aggregate('px').count > 5 && Math.abs(ctx.aggregate('px').zscore(t.px)) > 2)
      .followedBy('volume')
      .where((t) => t.size > 950)
      .within(500 * MS),
  },
  {
    id: 'THREE_RISING',
    version: 1,
    pattern: Pattern.begin<Trade>('a')
      .next('b')
      .where((t, ctx) => t.px > (ctx.last('a')?.px ?? Infinity))
      .next('c')
      .where((t, ctx) => t.px > (ctx.last('b')?.px ?? Infinity))
      .within(100 * MS),
  },
  {
    id: 'SENTIMENT_PRICE',
    version: 1,
    pattern: patternFromYaml<Trade>(`
stages:
  - name: negative
    where: { field: sentiment, op: "<", to: { value: -0.98 } }
  - name: drop
    where: { field: px, op: "<", to: { stage: negative, field: px, factor: 0.995 } }
within: 300000000
skip: { kind: skipPastLastEvent }
`),
  },
  {
    id: 'BLOCK_BURST',
    version: 1,
    pattern: Pattern.begin<Trade>('block', AfterMatchSkip.skipPastLastEvent())
      .where((t) => t.size > 990)
      .timesOrMore(3)
      .within(200 * MS),
  },
];

const heavyAggregates: AggregateSpec<Trade>[] = [{ name: 'px', windowNs: 1_000 * MS, value: (t) => t.px, weight: (t) => t.size }];

// ---------------------------------------------------------------- built-in rules on a simulator-like replay

const UNDERLYINGS = ['SPY', 'QQQ', 'AAPL', 'TSLA', 'NVDA', 'IWM', 'MSFT', 'AMZN', 'META', 'GOOGL', 'AMD', 'NFLX', 'JPM', 'XOM', 'BA', 'DIS', 'INTC', 'COIN', 'PLTR', 'UBER'];
/** 2025-03-21T14:30:00Z in epoch ns: engine time 0 of the replay. */
const BASE_NS = 1742567400000000000n;
const EXPIRIES = ['2025-03-28', '2025-04-17'];

/**
 * A replay shaped like the simulator's stream at 4,000 events/s of market time (250 µs apart), over
 * 20 underlyings with skewed activity on 12 partitions (the catalog's symbol partitioning), arriving
 * up to 20 ms out of order. Prices follow random walks, QQQ moves with SPY (and stops doing so in
 * the second half), one underlying in ~4,000 events gets a 30-event shock (a 3% move on five-fold
 * volume with thin books and wide spreads), and a sentiment score arrives about once a minute per
 * underlying, sometimes negative. Account positions and limits change now and then.
 */
function builtinsReplay(count: number): CepRecord<CepEvent>[] {
  const random = prng(314);
  const n = UNDERLYINGS.length;
  const mid = UNDERLYINGS.map(() => 50 + random() * 450);
  const weight = UNDERLYINGS.map((_, i) => 1 / (i + 2));
  const total = weight.reduce((a, b) => a + b, 0);
  const shockLeft = new Int32Array(n);
  const shockDrift = new Float64Array(n);
  const offsets = new Map<string, number>();
  const out: CepRecord<CepEvent>[] = [];
  const pick = (): number => {
    let x = random() * total;
    for (let i = 0; i < n; i++) if ((x -= weight[i]) <= 0) return i;
    return n - 1;
  };
  const push = (topic: string, partition: number, ts: number, value: Record<string, unknown>): void => {
    const slot = `${topic}/${partition}`;
    const offset = offsets.get(slot) ?? 0;
    offsets.set(slot, offset + 1);
    out.push({ topic, partition, offset: String(offset), ts: ts + Math.floor(random() * 20 * MS), event: { topic, value } });
  };
  const stamp = (ts: number): string => (BASE_NS + BigInt(ts)).toString();
  const stepNs = 250_000;
  let nextSecond = 1e9;
  let volume = new Float64Array(n);
  let open = mid.slice();
  for (let i = 0; out.length < count; i++) {
    const ts = i * stepNs;
    if (ts >= nextSecond) {
      // Once a second of market time: a candle and a chain snapshot per underlying.
      for (let u = 0; u < n; u++) {
        const symbol = UNDERLYINGS[u];
        const px = mid[u];
        push('candles.1s', u % 12, nextSecond, { symbol, interval: '1s', open: open[u], high: Math.max(open[u], px), low: Math.min(open[u], px), close: px, volume: volume[u], revision: 0, ts: stamp(nextSecond) });
        const contracts: Record<string, unknown>[] = [];
        for (const expiration of EXPIRIES) {
          for (let k = -5; k < 5; k++) {
            const strike = Math.round(px * (1 + k * 0.01));
            const iv = 0.25 + Math.abs(k) * 0.005 + (shockLeft[u] > 0 ? 0.08 : 0) + (random() - 0.5) * 0.004;
            const intrinsicCall = Math.max(0, px - strike);
            const time = px * iv * 0.12;
            contracts.push(
              { symbol: `${symbol}C${strike}${expiration}`, expiration, strike, right: 'call', bid: intrinsicCall + time - 0.05, ask: intrinsicCall + time + 0.05, iv },
              { symbol: `${symbol}P${strike}${expiration}`, expiration, strike, right: 'put', bid: Math.max(0.01, strike - px) + time - 0.05, ask: Math.max(0.01, strike - px) + time + 0.05, iv },
            );
          }
        }
        push('options.chains', u % 12, nextSecond, { underlying: symbol, underlyingPrice: px, riskFreeRate: 0.045, dividendYield: 0, contracts, ts: stamp(nextSecond) });
        if (random() < 1 / 60) {
          push('news.sentiment', u % 12, nextSecond, { articleId: `N${i}-${u}`, symbols: [symbol], headline: `${symbol} news`, source: 'bench', sentiment: random() * 2 - 1.2, ts: stamp(nextSecond) });
        }
      }
      volume = new Float64Array(n);
      open = mid.slice();
      nextSecond += 1e9;
    }
    const u = pick();
    const symbol = UNDERLYINGS[u];
    if (shockLeft[u] === 0 && random() < 1 / 4_000) {
      shockLeft[u] = 30;
      shockDrift[u] = (random() < 0.5 ? -1 : 1) * 0.001;
    }
    const shocked = shockLeft[u] > 0;
    if (shocked) shockLeft[u]--;
    const move = (random() - 0.5) * 0.0004 + (shocked ? shockDrift[u] : 0);
    mid[u] *= 1 + move;
    // QQQ moves with SPY (in the first half of the replay).
    if (u === 0 && i * 2 < count) mid[1] *= 1 + move * 0.9;
    const half = mid[u] * 0.0001 * (shocked ? 4 : 1) * (1 + random());
    const roll = random() * 100;
    const partition = u % 12;
    if (roll < 20) {
      const depth = shocked ? 0.2 : 1;
      push('market.quotes', partition, ts, { symbol, bidPrice: mid[u] - half, askPrice: mid[u] + half, bidSize: Math.floor((5 + random() * 10) * 100 * depth), askSize: Math.floor((5 + random() * 10) * 100 * depth) });
    } else if (roll < 28) {
      const size = Math.floor((1 + random() * 4) * 100 * (shocked ? 5 : 1));
      volume[u] += size;
      push('market.trades', partition, ts, { symbol, price: mid[u] + (random() - 0.5) * 2 * half, size });
    } else if (roll < 88) {
      push('options.quotes', partition, ts, { underlying: symbol, bidPrice: 5, askPrice: 5.1, bidSize: 10, askSize: 10 });
    } else {
      push('options.trades', partition, ts, { underlying: symbol, price: 5.05, size: Math.floor(1 + random() * 50) });
      if (random() < 0.04) {
        push('options.flow', partition, ts, { underlying: symbol, kind: random() < 0.75 ? 'sweep' : 'block', side: random() < 0.5 ? 'buy' : 'sell', right: random() < 0.5 ? 'call' : 'put', premium: Math.exp(10 + random() * 3), size: 100 });
      }
    }
    if (random() < 1 / 2_000) {
      const account = `ACC-${Math.floor(random() * 10)}`;
      if (random() < 0.1) {
        const row = { account, limit_type: 'max_position_quantity', symbol: null, limit_value: String(Math.floor(5_000 + random() * 5_000)), active: true };
        push('cdc.trading.risk_limits', 0, ts, { op: 'u', before: row, after: row });
      } else {
        const row = { account, symbol, quantity: String(Math.floor((random() - 0.3) * 10_000)), average_price: String(mid[u]) };
        push('cdc.trading.positions', 1, ts, { op: 'u', before: row, after: row });
      }
    }
  }
  return out;
}

interface RulesFigure extends Figure {
  /** Records delivered to engines (a record goes to every rule reading its topic). */
  deliveries: number;
}

/** Runs each rule in its own engine, dispatching every record to the rules that read its topic (as the service does). */
function onceRules(rules: readonly CompiledRule[], input: CepRecord<CepEvent>[], bare: boolean): RulesFigure {
  const engines = rules.map((rule) => new CepEngine<CepEvent>(bare ? { ...rule.options, patterns: [], aggregates: [], state: [] } : rule.options));
  const byTopic = new Map<string, CepEngine<CepEvent>[]>();
  rules.forEach((rule, r) => {
    for (const topic of rule.inputs) {
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push(engines[r]);
    }
  });
  const NONE: CepEngine<CepEvent>[] = [];
  let matches = 0;
  let timeouts = 0;
  let deliveries = 0;
  const matchesByPattern: Record<string, number> = {};
  const drainAll = (): void => {
    for (const engine of engines) {
      const out = engine.drain();
      matches += out.matches.length;
      timeouts += out.timeouts.length;
      for (const match of out.matches) matchesByPattern[match.patternId] = (matchesByPattern[match.patternId] ?? 0) + 1;
    }
  };
  const started = process.hrtime.bigint();
  const cpuStarted = process.cpuUsage();
  for (let i = 0; i < input.length; i++) {
    const record = input[i];
    const targets = byTopic.get(record.topic) ?? NONE;
    for (let t = 0; t < targets.length; t++) targets[t].ingest(record);
    deliveries += targets.length;
    if ((i & 4095) === 0) drainAll();
  }
  const partialMatchesAtEnd: Record<string, number> = {};
  for (const engine of engines) Object.assign(partialMatchesAtEnd, engine.stats().partialMatchesByPattern);
  for (const engine of engines) engine.advanceWatermark(Number.POSITIVE_INFINITY);
  drainAll();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    eventsPerSecond: Math.round(input.length / seconds),
    eventsPerCpuSecond: Math.round(input.length / cpuSeconds),
    matches,
    timeouts,
    matchesByPattern,
    partialMatchesAtEnd,
    deliveries,
  };
}

function medianRules(rules: readonly CompiledRule[], input: CepRecord<CepEvent>[], bare: boolean): RulesFigure {
  const runs: RulesFigure[] = [];
  for (let r = 0; r < rounds; r++) runs.push(onceRules(rules, input, bare));
  runs.sort((a, b) => a.eventsPerCpuSecond - b.eventsPerCpuSecond);
  return runs[Math.floor(runs.length / 2)];
}

function builtinsScenario() {
  const input = builtinsReplay(events);
  const rules = defaultRules().map(compileRule);
  onceRules(rules, input.slice(0, Math.min(input.length, 200_000)), false); // warm-up
  const baseline = medianRules(rules, input, true);
  const engine = medianRules(rules, input, false);
  const topics: Record<string, number> = {};
  for (const record of input) topics[record.topic] = (topics[record.topic] ?? 0) + 1;
  const marketSeconds = (input[input.length - 1].ts - input[0].ts) / 1e9;
  const result = {
    scenario: 'builtins',
    events: input.length,
    marketSeconds: Math.round(marketSeconds),
    topics,
    rules: rules.map((rule) => rule.spec.id),
    deliveriesPerEvent: Math.round((engine.deliveries / input.length) * 1000) / 1000,
    baselineEventsPerCpuSecond: baseline.eventsPerCpuSecond,
    engineEventsPerCpuSecond: engine.eventsPerCpuSecond,
    /** Records delivered to rule engines per CPU second (each engine's own rate). */
    engineDeliveriesPerCpuSecond: Math.round(engine.eventsPerCpuSecond * (engine.deliveries / input.length)),
    baselineEventsPerSecond: baseline.eventsPerSecond,
    engineEventsPerSecond: engine.eventsPerSecond,
    ratio: engine.eventsPerCpuSecond / baseline.eventsPerCpuSecond,
    matches: engine.matches,
    timeouts: engine.timeouts,
    matchesByPattern: engine.matchesByPattern,
    partialMatchesAtEnd: engine.partialMatchesAtEnd,
  };
  const rate = (f: Figure): string => `${(f.eventsPerCpuSecond / 1e6).toFixed(2)} M events per CPU second (${(f.eventsPerSecond / 1e6).toFixed(2)} M/s wall clock)`;
  console.log(`builtins: ${input.length} events (${result.marketSeconds} s of market time), ${rules.length} default rules, ${result.deliveriesPerEvent} engine deliveries per event`);
  console.log(`  topics ${JSON.stringify(topics)}`);
  console.log(`  dispatch + reorder stage only  ${rate(baseline)}`);
  console.log(`  all built-in rules             ${rate(engine)}: ${(result.ratio * 100).toFixed(1)}% of the reorder stage; ${(result.engineDeliveriesPerCpuSecond / 1e6).toFixed(2)} M deliveries per CPU second`);
  console.log(`  matches=${engine.matches} by rule ${JSON.stringify(engine.matchesByPattern)}`);
  console.log(`  partial matches held at the end ${JSON.stringify(engine.partialMatchesAtEnd)}`);
  return result;
}

// ---------------------------------------------------------------- measurement

interface Figure {
  /** Events over wall-clock time. */
  eventsPerSecond: number;
  /** Events over the CPU time of the whole process (all threads, GC helpers included): per core. */
  eventsPerCpuSecond: number;
  matches: number;
  timeouts: number;
  matchesByPattern: Record<string, number>;
  /** Partial matches held per pattern when the input ends (before the final flush). */
  partialMatchesAtEnd: Record<string, number>;
}

function once<E>(options: CepEngineOptions<E>, input: CepRecord<E>[]): Figure {
  const engine = new CepEngine<E>(options);
  let matches = 0;
  let timeouts = 0;
  const matchesByPattern: Record<string, number> = {};
  const count = (out: ReturnType<CepEngine<E>['drain']>): void => {
    matches += out.matches.length;
    timeouts += out.timeouts.length;
    for (const match of out.matches) matchesByPattern[match.patternId] = (matchesByPattern[match.patternId] ?? 0) + 1;
  };
  const started = process.hrtime.bigint();
  const cpuStarted = process.cpuUsage();
  for (let i = 0; i < input.length; i++) {
    engine.ingest(input[i]);
    if ((i & 4095) === 0) count(engine.drain());
  }
  const state = engine.stats();
  engine.advanceWatermark(Number.POSITIVE_INFINITY);
  count(engine.drain());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    eventsPerSecond: Math.round(input.length / seconds),
    eventsPerCpuSecond: Math.round(input.length / cpuSeconds), matches, timeouts, matchesByPattern, partialMatchesAtEnd: state.partialMatchesByPattern };
}

function median<E>(options: CepEngineOptions<E>, input: CepRecord<E>[]): Figure {
  const runs: Figure[] = [];
  for (let r = 0; r < rounds; r++) runs.push(once(options, input));
  runs.sort((a, b) => a.eventsPerCpuSecond - b.eventsPerCpuSecond);
  return runs[Math.floor(runs.length / 2)];
}

function scenario<E>(name: string, input: CepRecord<E>[], options: CepEngineOptions<E>) {
  once(options, input.slice(0, Math.min(input.length, 200_000))); // warm-up
  const baseline = median({ ...options, patterns: [], aggregates: [] }, input);
  const engine = median(options, input);
  const result = {
    scenario: name,
    events: input.length,
    patterns: options.patterns.map((p) => p.id),
    aggregates: (options.aggregates ?? []).map((a) => a.name),
    baselineEventsPerCpuSecond: baseline.eventsPerCpuSecond,
    engineEventsPerCpuSecond: engine.eventsPerCpuSecond,
    baselineEventsPerSecond: baseline.eventsPerSecond,
    engineEventsPerSecond: engine.eventsPerSecond,
    ratio: engine.eventsPerCpuSecond / baseline.eventsPerCpuSecond,
    matches: engine.matches,
    timeouts: engine.timeouts,
    matchesPerMillionEvents: Math.round((engine.matches / input.length) * 1e6),
    matchesByPattern: engine.matchesByPattern,
    partialMatchesAtEnd: engine.partialMatchesAtEnd,
  };
  console.log(`${name}: ${input.length} events, ${options.patterns.length} patterns, ${(options.aggregates ?? []).length} aggregates`);
  const rate = (f: Figure): string => `${(f.eventsPerCpuSecond / 1e6).toFixed(2)} M events per CPU second (${(f.eventsPerSecond / 1e6).toFixed(2)} M/s wall clock)`;
  console.log(`  reorder stage only  ${rate(baseline)}`);
  console.log(`  full engine         ${rate(engine)}: ${(result.ratio * 100).toFixed(1)}% of the reorder stage`);
  console.log(`  matches=${engine.matches} (${result.matchesPerMillionEvents} per million events) timeouts=${engine.timeouts}`);
  console.log(`  matches by pattern ${JSON.stringify(engine.matchesByPattern)}`);
  console.log(`  partial matches held at the end ${JSON.stringify(engine.partialMatchesAtEnd)}`);
  return result;
}

const keyBy = <E extends { symbol: string }>(e: E): string => e.symbol;
const realistic = only !== undefined && only !== 'realistic' ? undefined : scenario('realistic', marketReplay(events), {
  patterns: marketPatterns,
  aggregates: marketAggregates,
  keyBy,
  outOfOrdernessNs: 2 * MS,
  idleKeyTtlNs: 60_000 * MS,
});
const matchHeavy = only !== undefined && only !== 'match-heavy' ? undefined : scenario('match-heavy', tradeReplay(events), {
  patterns: heavyPatterns,
  aggregates: heavyAggregates,
  keyBy,
  outOfOrdernessNs: 2 * MS,
  idleKeyTtlNs: 60_000 * MS,
});

const builtins = only !== undefined && only !== 'builtins' ? undefined : builtinsScenario();

const results = { rounds, realistic, matchHeavy, builtins, node: process.version, at: new Date().toISOString() };
mkdirSync(join(process.cwd(), 'bench-results'), { recursive: true });
writeFileSync(join(process.cwd(), 'bench-results', 'cep-engine.json'), JSON.stringify(results, null, 2) + '\n');
