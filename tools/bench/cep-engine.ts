/**
 * CEP engine throughput, in process, on one core: a synthetic keyed market replay (trades of 200
 * symbols over 4 partitions, slightly out of order) through the engine with several realistic
 * patterns, against a baseline of the same replay through the watermark/reorder stage alone.
 *
 *   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/cep-engine.ts [events]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AfterMatchSkip, CepEngine, Pattern, patternFromYaml, type CepEngineOptions, type CepRecord } from '@tributary/cep';

interface Trade {
  symbol: string;
  px: number;
  size: number;
  sentiment: number;
}

const MS = 1_000_000;
const events = Number(process.argv[2] ?? 2_000_000);

function replay(count: number): CepRecord<Trade>[] {
  let seed = 42;
  const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 4_294_967_296);
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

const patterns: CepEngineOptions<Trade>['patterns'] = [
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
    pattern: Pattern.begin<Trade>('block', AfterMatchSkip.skipPastLastEvent()).where((t) => t.size > 990).timesOrMore(3).within(200 * MS),
  },
];

function measure(name: string, options: CepEngineOptions<Trade>, input: CepRecord<Trade>[]): { name: string; eventsPerSecond: number; matches: number; timeouts: number } {
  const engine = new CepEngine<Trade>(options);
  let matches = 0;
  let timeouts = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < input.length; i++) {
    engine.ingest(input[i]);
    if ((i & 4095) === 0) {
      const out = engine.drain();
      matches += out.matches.length;
      timeouts += out.timeouts.length;
    }
  }
  engine.advanceWatermark(Number.POSITIVE_INFINITY);
  const out = engine.drain();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  matches += out.matches.length;
  timeouts += out.timeouts.length;
  return { name, eventsPerSecond: Math.round(input.length / seconds), matches, timeouts };
}

const input = replay(events);
const common = { keyBy: (t: Trade) => t.symbol, outOfOrdernessNs: 2 * MS, idleKeyTtlNs: 60_000 * MS };
const aggregates = [{ name: 'px', windowNs: 1_000 * MS, value: (t: Trade) => t.px, weight: (t: Trade) => t.size }];
measure('warm-up', { ...common, patterns, aggregates }, input.slice(0, 200_000));
const baseline = measure('reorder stage only', { ...common, patterns: [] }, input);
const engine = measure(`engine, ${patterns.length} patterns + aggregates`, { ...common, patterns, aggregates }, input);
const results = { events, baseline, engine, ratio: engine.eventsPerSecond / baseline.eventsPerSecond, node: process.version, at: new Date().toISOString() };
for (const r of [baseline, engine]) console.log(`${r.name.padEnd(40)} ${(r.eventsPerSecond / 1e6).toFixed(2)} M events/s  matches=${r.matches} timeouts=${r.timeouts}`);
console.log(`engine / baseline: ${(results.ratio * 100).toFixed(1)}%`);
mkdirSync(join(process.cwd(), 'bench-results'), { recursive: true });
writeFileSync(join(process.cwd(), 'bench-results', 'cep-engine.json'), JSON.stringify(results, null, 2) + '\n');
