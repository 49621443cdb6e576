import { RollingWindow } from './aggregates';
import { CepEngine, type CepEngineOptions, type CepOutput } from './engine';
import { Pattern } from './pattern';
import { compareRecords, ReorderBuffer, type CepRecord } from './watermark';
import { seededRandom as prng } from '@tributary/testing';

interface Trade {
  symbol: string;
  px: number;
  size: number;
}

const MS = 1_000_000;

function options(extra: Partial<CepEngineOptions<Trade>> = {}): CepEngineOptions<Trade> {
  const surge = Pattern.begin<Trade>('up')
    .where((t, ctx) => ctx.aggregate('px').count > 2 && ctx.aggregate('px').zscore(t.px) > 1)
    .followedBy('big')
    .where((t) => t.size > 500)
    .oneOrMore()
    .within(50 * MS);
  const rising = Pattern.begin<Trade>('a')
    .followedBy('b')
    .where((t, ctx) => t.px > (ctx.last('a')?.px ?? Infinity))
    .followedBy('c')
    .where((t, ctx) => t.px > (ctx.last('b')?.px ?? Infinity))
    .within(20 * MS);
  return {
    patterns: [
      { id: 'SURGE', version: 1, pattern: surge },
      { id: 'RISING', version: 2, pattern: rising },
    ],
    keyBy: (t) => t.symbol,
    outOfOrdernessNs: 5 * MS,
    aggregates: [{ name: 'px', windowNs: 30 * MS, value: (t) => t.px, weight: (t) => t.size }],
    ...extra,
  };
}

/** A keyed market replay spread over four partitions, in event-time order. */
function replay(count: number, seed: number, symbols = 5): CepRecord<Trade>[] {
  const random = prng(seed);
  const out: CepRecord<Trade>[] = [];
  const offsets = [0, 0, 0, 0];
  for (let i = 0; i < count; i++) {
    const symbol = `S${Math.floor(random() * symbols)}`;
    const partition = Number(symbol.slice(1)) % 4;
    out.push({
      event: { symbol, px: 100 + Math.round(random() * 100) / 10, size: Math.floor(random() * 1000) },
      ts: i * MS + Math.floor(random() * 3) * 1000,
      topic: 'market.trades',
      partition,
      offset: String(offsets[partition]++),
    });
  }
  return out;
}

/** Reorders events randomly but never by more than `boundNs` of event time (per partition arrival). */
function shuffleWithin(records: CepRecord<Trade>[], boundNs: number, seed: number): CepRecord<Trade>[] {
  const random = prng(seed);
  return records
    .map((record) => ({ record, at: record.ts + random() * boundNs }))
    .sort((x, y) => x.at - y.at)
    .map(({ record }) => record);
}

function runAll(engine: CepEngine<Trade>, records: CepRecord<Trade>[]): CepOutput<Trade> {
  for (const record of records) engine.ingest(record);
  engine.advanceWatermark(Number.POSITIVE_INFINITY);
  return engine.drain();
}

describe('event time', () => {
  const input = replay(3_000, 7);
  const expected = runAll(new CepEngine(options()), input);

  it('the replay produces matches and timeouts (the property below is not vacuous)', () => {
    expect(expected.matches.length).toBeGreaterThan(10);
    expect(expected.timeouts.length).toBeGreaterThan(10);
    expect(expected.late).toEqual([]);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('the same input in any arrival order within the bound gives exactly the same output (seed %i)', (seed) => {
    const shuffled = shuffleWithin(input, 5 * MS, seed);
    expect(shuffled).not.toEqual(input);
    expect(runAll(new CepEngine(options()), shuffled)).toEqual(expected);
  });

  it('an event later than the bound goes to the late side output with the watermark it missed', () => {
    const engine = new CepEngine(options());
    const [first] = replay(1, 1);
    engine.ingest({ ...first, ts: 100 * MS });
    engine.ingest({ ...first, ts: 10 * MS, offset: '99' });
    const out = engine.drain();
    expect(out.late).toHaveLength(1);
    expect(out.late[0].watermark).toBe(95 * MS);
  });

  it('within the allowed lateness an event behind the watermark is still applied when its key has not moved past it', () => {
    const engine = new CepEngine(options({ allowedLatenessNs: 10 * MS }));
    const base = replay(1, 1)[0];
    engine.ingest({ ...base, event: { ...base.event, symbol: 'OTHER' }, ts: 100 * MS, partition: 1 });
    engine.markIdle('market.trades', 1);
    engine.ingest({ ...base, ts: 90 * MS, offset: '5' });
    expect(engine.drain().late).toEqual([]);
    engine.ingest({ ...base, ts: 80 * MS, offset: '6' });
    expect(engine.drain().late).toHaveLength(1);
  });

  it('the reorder buffer releases records in (time, topic, partition, offset) order, ties included', () => {
    const random = prng(9);
    const buffer = new ReorderBuffer<number>();
    const records: CepRecord<number>[] = [];
    for (let i = 0; i < 2_000; i++) {
      const record = { event: i, ts: Math.floor(random() * 50), topic: random() < 0.5 ? 'a' : 'b', partition: Math.floor(random() * 3), offset: String((i * 7_919) % 2_000) };
      records.push(record);
      buffer.push(record);
    }
    const released: CepRecord<number>[] = [];
    for (let record = buffer.pop(); record !== undefined; record = buffer.pop()) released.push(record);
    expect(released.map((r) => r.event)).toEqual(records.slice().sort(compareRecords).map((r) => r.event));
  });

  it('the watermark is the minimum over input partitions', () => {
    const engine = new CepEngine(options());
    const base = replay(1, 1)[0];
    engine.ingest({ ...base, partition: 1, ts: 50 * MS });
    engine.ingest({ ...base, partition: 0, ts: 100 * MS });
    expect(engine.watermark).toBe(45 * MS);
    expect(engine.stats().bufferedRecords).toBe(2);
    engine.markIdle('market.trades', 1);
    expect(engine.watermark).toBe(95 * MS);
    expect(engine.stats().bufferedRecords).toBe(1);
  });

  it('partitions found idle together release the watermark to the newest of them, whatever the order they are marked in', () => {
    const base = replay(1, 1)[0];
    for (const order of [
      [0, 1, 2],
      [2, 1, 0],
      [1, 0, 2],
    ]) {
      const engine = new CepEngine(options());
      engine.ingest({ ...base, partition: 0, ts: 100 * MS });
      engine.ingest({ ...base, partition: 1, ts: 50 * MS });
      engine.ingest({ ...base, partition: 2, ts: 70 * MS });
      for (const partition of order) engine.markIdle('market.trades', partition);
      expect(engine.watermark).toBe(95 * MS);
      expect(engine.stats().bufferedRecords).toBe(1);
    }
  });
});

describe('snapshots', () => {
  it('restoring a JSON snapshot mid-stream gives the same output as an uninterrupted run', () => {
    const input = replay(3_000, 11);
    const uninterrupted = runAll(new CepEngine(options()), input);

    const first = new CepEngine(options());
    for (const record of input.slice(0, 1_777)) first.ingest(record);
    const before = first.drain();
    const json = JSON.stringify(first.snapshot());
    const restored = CepEngine.restore(options(), JSON.parse(json));
    expect(JSON.stringify(restored.snapshot())).toBe(json);
    const after = runAll(restored, input.slice(1_777));

    expect({
      matches: [...before.matches, ...after.matches],
      timeouts: [...before.timeouts, ...after.timeouts],
      late: [...before.late, ...after.late],
      droppedPartialMatches: before.droppedPartialMatches + after.droppedPartialMatches,
    }).toEqual(uninterrupted);
  });
});

describe('state bounds', () => {
  it('state stays bounded over a long run with key churn (within, idle-key TTL)', () => {
    const engine = new CepEngine(options({ idleKeyTtlNs: 100 * MS }));
    const random = prng(3);
    let maxKeys = 0;
    let maxPartials = 0;
    for (let i = 0; i < 200_000; i++) {
      // Each key lives for about 2,000 events, then never returns.
      const symbol = `K${Math.floor(i / 2_000)}-${Math.floor(random() * 20)}`;
      engine.ingest({ event: { symbol, px: 100 + random() * 10, size: Math.floor(random() * 1000) }, ts: i * MS, topic: 'market.trades', partition: 0, offset: String(i) });
      if (i % 1_000 === 0) {
        engine.drain();
        const stats = engine.stats();
        maxKeys = Math.max(maxKeys, stats.keys);
        maxPartials = Math.max(maxPartials, stats.partialMatches);
      }
    }
    expect(maxKeys).toBeLessThanOrEqual(40);
    expect(maxPartials).toBeLessThan(2_000);
    expect(engine.stats().bufferedRecords).toBeLessThanOrEqual(6);
  });
});

describe('aggregates', () => {
  it('rolling mean and standard deviation track the event-time window', () => {
    const window = new RollingWindow(10);
    [1, 2, 3, 4, 5].forEach((x, i) => window.add(i, x));
    expect(window.mean).toBeCloseTo(3, 12);
    expect(window.stddev).toBeCloseTo(Math.sqrt(2.5), 12);
    window.add(12, 9); // evicts ts <= 2
    expect(window.count).toBe(3);
    expect(window.mean).toBeCloseTo((4 + 5 + 9) / 3, 12);
    expect(window.zscore(window.mean)).toBe(0);
  });

  it('statistics stay exact while the window grows, wraps around, and turns from plain to weighted samples', () => {
    const window = new RollingWindow(1_000);
    const random = prng(5);
    const samples: [number, number, number, number][] = [];
    for (let ts = 0; ts < 5_000; ts += 1 + Math.floor(random() * 3)) {
      // Plain samples first (no size, no pair), then weighted and paired ones.
      const sample: [number, number, number, number] = ts < 2_500 ? [ts, 50 + random() * 10, 0, 0] : [ts, 50 + random() * 10, random(), 1 + Math.floor(random() * 9)];
      window.add(...sample);
      samples.push(sample);
      if (ts % 97 !== 0) continue;
      const live = samples.filter(([at]) => at > ts - 1_000);
      if (live.length < 2) continue;
      const mean = live.reduce((sum, [, x]) => sum + x, 0) / live.length;
      const variance = live.reduce((sum, [, x]) => sum + (x - mean) ** 2, 0) / (live.length - 1);
      const weight = live.reduce((sum, [, , , w]) => sum + w, 0);
      expect(window.count).toBe(live.length);
      expect(window.mean).toBeCloseTo(mean, 9);
      expect(window.variance).toBeCloseTo(variance, 7);
      if (weight > 0) expect(window.vwap).toBeCloseTo(live.reduce((sum, [, x, , w]) => sum + x * w, 0) / weight, 9);
      else expect(window.vwap).toBeNaN();
    }
    expect(RollingWindow.restore(1_000, window.snapshot()).snapshot()).toEqual(window.snapshot());
  });

  it('VWAP weights prices by size and correlation follows paired samples', () => {
    const window = new RollingWindow(100);
    window.add(1, 10, 20, 1);
    window.add(2, 20, 40, 3);
    window.add(3, 30, 61, 0);
    expect(window.vwap).toBeCloseTo((10 + 60) / 4, 12);
    expect(window.correlation).toBeGreaterThan(0.999);
  });
});
