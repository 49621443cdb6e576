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
import { AfterMatchSkip, CepEngine, Pattern, patternFromYaml, type AggregateSpec, type CepEngineOptions, type CepRecord, type PatternSpec } from '@tributary/cep';

const MS = 1_000_000;
const events = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 3);
/** Run only this scenario (realistic or match-heavy), e.g. under a profiler. */
const only = process.argv[4];

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

const results = { rounds, realistic, matchHeavy, node: process.version, at: new Date().toISOString() };
mkdirSync(join(process.cwd(), 'bench-results'), { recursive: true });
writeFileSync(join(process.cwd(), 'bench-results', 'cep-engine.json'), JSON.stringify(results, null, 2) + '\n');
