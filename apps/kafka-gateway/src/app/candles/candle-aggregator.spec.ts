import type { Candle, UnderlyingTrade } from '@tributary/contracts';
import {
  CandleAggregator,
  type CandleOutput,
  decodeCheckpoint,
  encodeCheckpoint,
  type TradeSource,
} from './candle-aggregator';
import { decimalOf, NotionalSum } from './exact-price';
import { seededRandom as random } from '@tributary/testing';

const BASE_S = 1_742_567_400; // a whole minute, epoch seconds
const SOURCE = 'market.trades';

/** Epoch ns text of BASE_S + `ms` milliseconds (+ extra nanoseconds). */
function at(ms: number, extraNs = 0): string {
  const total = BigInt(BASE_S) * 1_000_000_000n + BigInt(Math.round(ms * 1_000_000)) + BigInt(extraNs);
  return total.toString();
}

function trade(symbol: string, ms: number, price: number, size: number, tradeId = `${symbol}-${ms}`): UnderlyingTrade.Value {
  return { symbol, price, size, exchange: 'Q', tradeId, conditions: [], ts: at(ms) };
}

function aggregator(outOfOrdernessMs = 1000, allowedLatenessMs = 5000): CandleAggregator {
  return new CandleAggregator({ sourceTopic: SOURCE, outOfOrdernessMs, allowedLatenessMs });
}

/** Feeds records, flushing every `flushEvery` records and at the end; the candles in emission order. */
function run(
  agg: CandleAggregator,
  records: readonly { trade: UnderlyingTrade.Value; source: TradeSource }[],
  flushEvery = 1,
): CandleOutput {
  const out: CandleOutput = { candles: [], late: [] };
  const collect = (flushed: CandleOutput): void => {
    out.candles.push(...flushed.candles);
    out.late.push(...flushed.late);
  };
  records.forEach((record, index) => {
    agg.add(record.trade, record.source);
    if ((index + 1) % flushEvery === 0) collect(agg.flush());
  });
  collect(agg.flush());
  return out;
}

/** The last emission of every candle key (what a compacted topic keeps), as JSON text. */
function finalCandles(candles: readonly Candle.Value[]): Map<string, string> {
  const latest = new Map<string, string>();
  for (const candle of candles) latest.set(`${candle.interval}|${candle.symbol}|${candle.windowStart}`, JSON.stringify(candle));
  return latest;
}

function onPartition(trades: readonly UnderlyingTrade.Value[], partition = 0): { trade: UnderlyingTrade.Value; source: TradeSource }[] {
  return trades.map((value, index) => ({ trade: value, source: { partition, offset: String(index) } }));
}

describe('exact VWAP arithmetic', () => {
  it('reads a price as the decimal JSON prints, whatever its binary error', () => {
    expect(decimalOf(214.12)).toEqual({ units: 21412n, scale: 2 });
    expect(decimalOf(0.1 + 0.2)).toEqual({ units: 30000000000000004n, scale: 17 });
    expect(decimalOf(5e-7)).toEqual({ units: 5n, scale: 7 });
    expect(decimalOf(1e21)).toEqual({ units: 10n ** 21n, scale: 0 });
  });

  it('gives the exact quotient rounded once, where float sums drift', () => {
    const sum = new NotionalSum();
    sum.add(decimalOf(0.1), 1);
    sum.add(decimalOf(0.2), 1);
    expect((0.1 * 1 + 0.2 * 1) / 2).not.toBe(0.15);
    expect(sum.divideBy(2)).toBe(0.15);
  });

  it('does not depend on the order the trades are added in', () => {
    const next = random(7);
    const trades = Array.from({ length: 500 }, () => ({ price: Math.round(next() * 1e6) / 1e4 + 0.0001, size: 1 + Math.floor(next() * 900) }));
    const forward = new NotionalSum();
    const backward = new NotionalSum();
    let volume = 0;
    for (const t of trades) {
      forward.add(decimalOf(t.price), t.size);
      volume += t.size;
    }
    for (const t of [...trades].reverse()) backward.add(decimalOf(t.price), t.size);
    expect(forward.divideBy(volume)).toBe(backward.divideBy(volume));
  });
});

describe('event-time candles', () => {
  it('emits OHLCV, VWAP and trade count of 1 s, 10 s and 1 min windows once the watermark passes their end', () => {
    const agg = aggregator(500, 0);
    const out = run(agg, onPartition([
      trade('AAPL', 100, 10.5, 100),
      trade('AAPL', 400, 10.7, 50),
      trade('AAPL', 900, 10.4, 10),
      trade('AAPL', 1200, 10.6, 40),
    ]));
    // The watermark is 1200 - 500 = 700 ms: no window has ended yet.
    expect(out.candles).toEqual([]);

    agg.add(trade('AAPL', 1600, 10.8, 1), { partition: 0, offset: '4' });
    const { candles } = agg.flush();
    expect(candles).toEqual([
      {
        symbol: 'AAPL',
        interval: '1s',
        windowStart: at(0),
        windowEnd: at(1000),
        open: 10.5,
        high: 10.7,
        low: 10.4,
        close: 10.4,
        volume: 160,
        vwap: (10.5 * 100 + 10.7 * 50 + 10.4 * 10) / 160,
        trades: 3,
        revision: 0,
        final: true,
        ts: at(1000),
      },
    ]);

    agg.advanceWatermark((BASE_S + 60) * 1_000_000);
    const rest = agg.flush().candles;
    expect(rest.map((c) => [c.interval, c.windowStart, c.trades, c.volume, c.open, c.close])).toEqual([
      ['1s', at(1000), 2, 41, 10.6, 10.8],
      ['10s', at(0), 5, 201, 10.5, 10.8],
      ['1m', at(0), 5, 201, 10.5, 10.8],
    ]);
  });

  it('gives byte-identical final candles for any arrival order within the out-of-orderness bound', () => {
    const symbols = ['AAPL', 'MSFT', 'SPY', 'QQQ'];
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = random(seed);
      const trades: UnderlyingTrade.Value[] = [];
      for (let i = 0; i < 1500; i++) {
        const symbol = symbols[Math.floor(next() * symbols.length)];
        const ms = Math.floor(next() * 150_000 * 1000) / 1000; // 2.5 minutes, microsecond times
        // Some trades share an event time to the nanosecond: their order comes from their own fields.
        const ts = i % 50 === 0 && trades.length > 0 ? trades[trades.length - 1].ts : at(ms, Math.floor(next() * 1000));
        trades.push({ symbol, price: Math.round((100 + next() * 5) * 100) / 100, size: 1 + Math.floor(next() * 500), exchange: next() < 0.5 ? 'Q' : 'N', tradeId: `t${i}`, conditions: [], ts });
      }
      const byTime = [...trades].sort((a, b) => (BigInt(a.ts) < BigInt(b.ts) ? -1 : BigInt(a.ts) > BigInt(b.ts) ? 1 : 0));
      // Arrival = event time + a delay below the 2 s bound: every trade arrives within the bound.
      const shuffled = trades
        .map((t) => ({ t, arrival: BigInt(t.ts) + BigInt(Math.floor(next() * 1_999_000_000)) }))
        .sort((a, b) => (a.arrival < b.arrival ? -1 : a.arrival > b.arrival ? 1 : 0))
        .map((entry) => entry.t);

      const finish = (agg: CandleAggregator, records: UnderlyingTrade.Value[], flushEvery: number): CandleOutput => {
        const out = run(agg, onPartition(records), flushEvery);
        agg.advanceWatermark((BASE_S + 600) * 1_000_000);
        out.candles.push(...agg.flush().candles);
        return out;
      };
      const ordered = finish(aggregator(2000, 3000), byTime, 1);
      const arrived = finish(aggregator(2000, 3000), shuffled, 1 + Math.floor(next() * 40));

      expect(arrived.late).toEqual([]);
      expect(ordered.late).toEqual([]);
      expect(arrived.candles.every((c) => c.revision === 0)).toBe(true);
      // Within the bound every window is emitted exactly once, complete.
      expect(arrived.candles.length).toBe(finalCandles(arrived.candles).size);
      expect(finalCandles(arrived.candles)).toEqual(finalCandles(ordered.candles));
      const counted = [...finalCandles(ordered.candles).values()]
        .map((text) => JSON.parse(text) as Candle.Value)
        .filter((c) => c.interval === '1m')
        .reduce((sum, c) => sum + c.trades, 0);
      expect(counted).toBe(trades.length);
    }
  });

  it('orders trades with the same event time by their own fields, so open and close do not depend on arrival', () => {
    const same = at(200);
    const a = { ...trade('AAPL', 200, 10, 1, 'b-2'), ts: same };
    const b = { ...trade('AAPL', 200, 11, 1, 'a-1'), ts: same };
    const first = aggregator(0, 0);
    first.add(a, { partition: 0, offset: '0' });
    first.add(b, { partition: 0, offset: '1' });
    const second = aggregator(0, 0);
    second.add(b, { partition: 0, offset: '0' });
    second.add(a, { partition: 0, offset: '1' });
    for (const agg of [first, second]) agg.advanceWatermark((BASE_S + 1) * 1_000_000);
    const [one] = first.flush().candles;
    const [two] = second.flush().candles;
    expect(one).toEqual(two);
    expect([one.open, one.close]).toEqual([11, 10]); // tradeId a-1 sorts before b-2
  });

  it('re-emits a corrected candle with the next revision when a trade comes late but within the allowed lateness', () => {
    const agg = aggregator(0, 5000);
    agg.add(trade('AAPL', 100, 10, 10), { partition: 0, offset: '0' });
    agg.add(trade('AAPL', 1500, 10.2, 10), { partition: 0, offset: '1' });
    const first = agg.flush().candles;
    expect(first.map((c) => [c.interval, c.revision, c.volume, c.close, c.final])).toEqual([['1s', 0, 10, 10, false]]);

    agg.add(trade('AAPL', 900, 9.5, 30), { partition: 0, offset: '2' });
    const corrected = agg.flush();
    expect(corrected.late).toEqual([]);
    expect(corrected.candles).toEqual([
      expect.objectContaining({ interval: '1s', windowStart: at(0), revision: 1, volume: 40, trades: 2, low: 9.5, close: 9.5, vwap: (100 + 285) / 40 }),
    ]);
  });

  it('reports a trade later than the allowed lateness on the late topic and leaves the closed candles alone', () => {
    const agg = aggregator(0, 2000);
    agg.add(trade('AAPL', 100, 10, 10), { partition: 3, offset: '40' });
    agg.add(trade('AAPL', 12_500, 10.1, 10), { partition: 3, offset: '41' });
    agg.flush();
    // Watermark 12.5 s: the 1 s window [0, 1) closed at 3 s, the 10 s window [0, 10) at 12 s; the minute is open.
    agg.add(trade('AAPL', 300, 9, 5, 'late-1'), { partition: 3, offset: '42' });
    const { candles, late } = agg.flush();
    expect(candles).toEqual([]);
    expect(late).toEqual([
      {
        symbol: 'AAPL',
        price: 9,
        size: 5,
        exchange: 'Q',
        tradeId: 'late-1',
        ts: at(300),
        missed: [
          { interval: '1s', windowStart: at(0), windowEnd: at(1000) },
          { interval: '10s', windowStart: at(0), windowEnd: at(10_000) },
        ],
        watermark: at(12_500),
        allowedLatenessMs: 2000,
        reason: expect.stringContaining('too late for the 1s, 10s window(s)'),
        source: { topic: SOURCE, partition: 3, offset: '42' },
      },
    ]);
    agg.advanceWatermark((BASE_S + 60) * 1_000_000);
    const minute = agg.flush().candles.find((c) => c.interval === '1m' && c.windowStart === at(0));
    expect(minute).toMatchObject({ trades: 3, volume: 25, low: 9 });
  });

  it('holds windows back until every partition passed their end, and not for a partition gone idle', () => {
    const agg = aggregator(0, 0);
    agg.add(trade('AAPL', 100, 10, 1), { partition: 0, offset: '0' });
    agg.add(trade('MSFT', 200, 20, 1), { partition: 1, offset: '0' });
    agg.add(trade('AAPL', 5000, 10, 1), { partition: 0, offset: '1' });
    expect(agg.flush().candles).toEqual([]); // partition 1 is still at 200 ms
    agg.add(trade('MSFT', 1100, 20, 1), { partition: 1, offset: '1' });
    expect(agg.flush().candles.map((c) => `${c.symbol}@${c.windowStart}`).sort()).toEqual([`AAPL@${at(0)}`, `MSFT@${at(0)}`]);
    agg.markIdle(1);
    expect(agg.flush().candles.map((c) => `${c.symbol}@${c.windowStart}`)).toEqual([`MSFT@${at(1000)}`]);
  });

  it('lets an assigned partition that has not delivered yet hold the watermark back', () => {
    const agg = aggregator(0, 0);
    agg.expectPartition(1);
    agg.add(trade('AAPL', 100, 10, 1), { partition: 0, offset: '0' });
    agg.add(trade('AAPL', 90_000, 10, 1), { partition: 0, offset: '1' });
    expect(agg.flush().candles).toEqual([]);
    agg.add(trade('MSFT', 500, 20, 1), { partition: 1, offset: '0' }); // not late: its windows are still open
    expect(agg.flush()).toEqual({ candles: [], late: [] });
    agg.markIdle(1);
    expect(agg.flush().candles.map((c) => `${c.interval}:${c.symbol}`)).toEqual(['1s:AAPL', '1s:MSFT', '10s:AAPL', '10s:MSFT', '1m:AAPL', '1m:MSFT']);
  });
});

describe('restart from a committed offset', () => {
  function stream(seed: number): UnderlyingTrade.Value[] {
    const next = random(seed);
    const trades: UnderlyingTrade.Value[] = [];
    let clock = 0;
    for (let i = 0; i < 1200; i++) {
      clock += next() * 120;
      // Most trades on time; some late within the lateness, a few beyond it.
      const roll = next();
      const delay = roll < 0.9 ? next() * 900 : roll < 0.97 ? 1000 + next() * 3000 : 6000 + next() * 4000;
      trades.push(trade(next() < 0.5 ? 'AAPL' : 'MSFT', Math.max(0, Math.round(clock - delay)), 100 + Math.round(next() * 100) / 100, 1 + Math.floor(next() * 9), `t${i}`));
    }
    return trades;
  }

  it('loses and doubles nothing: a crash after any commit gives the same final candles and late reports', () => {
    for (const seed of [11, 12, 13]) {
      const trades = stream(seed);
      const records = onPartition(trades, 2);
      const end = (BASE_S + 600) * 1_000_000;

      const reference = aggregator(1000, 4000);
      const expected = run(reference, records, 7);
      reference.advanceWatermark(end);
      expected.candles.push(...reference.flush().candles);
      expect(expected.late.length).toBeGreaterThan(0);
      expect(expected.candles.some((c) => c.revision > 0)).toBe(true);

      for (const crashAt of [150, 499, 800]) {
        // First life: flush and commit every 7 records, crash after record `crashAt` (uncommitted work is lost).
        const first = aggregator(1000, 4000);
        const emitted: Candle.Value[] = [];
        const late: string[] = [];
        let committed: { offset: string; metadata: string } | undefined;
        for (let index = 0; index <= crashAt; index++) {
          first.add(records[index].trade, records[index].source);
          if ((index + 1) % 7 === 0) {
            const out = first.flush();
            emitted.push(...out.candles);
            late.push(...out.late.map((l) => l.source.offset));
            const point = first.commitPoint(2);
            if (point) committed = { offset: point.offset, metadata: encodeCheckpoint(point.checkpoint) };
          }
        }
        const flushedBeforeCrash = first.flush(); // produced, never committed
        emitted.push(...flushedBeforeCrash.candles);
        late.push(...flushedBeforeCrash.late.map((l) => l.source.offset));

        // Second life: restore the checkpoint and read again from the committed offset.
        const second = aggregator(1000, 4000);
        const checkpoint = decodeCheckpoint(committed?.metadata);
        if (checkpoint) second.restore(2, checkpoint);
        const from = Number(committed?.offset ?? '0');
        const out = run(second, records.slice(from), 7);
        second.advanceWatermark(end);
        emitted.push(...out.candles, ...second.flush().candles);
        late.push(...out.late.map((l) => l.source.offset));

        expect(finalCandles(emitted.map((c) => ({ ...c, revision: 0 })))).toEqual(
          finalCandles(expected.candles.map((c) => ({ ...c, revision: 0 }))),
        );
        // Every late trade reported; redelivered ones at most again (same trade, same source offset).
        expect([...new Set(late)].sort()).toEqual(expected.late.map((l) => l.source.offset).sort());
      }
    }
  });

  it('never lowers a revision already committed when a restored window is corrected again', () => {
    const agg = aggregator(0, 10_000);
    agg.restore(0, { watermarkUs: (BASE_S + 2) * 1_000_000, lastOffset: '1', maxRevision: 3 });
    agg.add(trade('AAPL', 100, 10, 1), { partition: 0, offset: '0' });
    agg.add(trade('AAPL', 2000, 10, 1), { partition: 0, offset: '1' });
    expect(agg.flush().candles).toEqual([]); // emitted before the restart
    agg.add(trade('AAPL', 500, 9, 1), { partition: 0, offset: '2' });
    expect(agg.flush().candles).toEqual([expect.objectContaining({ interval: '1s', windowStart: at(0), revision: 4, trades: 2 })]);
  });

  it('keeps the old commit while replaying, then commits the earliest offset an open window still needs', () => {
    const agg = aggregator(0, 1000);
    agg.restore(0, { watermarkUs: null, lastOffset: '11', maxRevision: 0 });
    agg.add(trade('AAPL', 100, 10, 1), { partition: 0, offset: '10' });
    expect(agg.commitPoint(0)).toBeUndefined();
    agg.add(trade('AAPL', 200, 10, 1), { partition: 0, offset: '12' });
    agg.flush();
    expect(agg.commitPoint(0)).toEqual({
      offset: '10',
      checkpoint: { watermarkUs: BASE_S * 1_000_000 + 200_000, lastOffset: '12', maxRevision: 0 },
    });
    agg.add(trade('AAPL', 70_000, 10, 1), { partition: 0, offset: '13' });
    agg.flush();
    expect(agg.commitPoint(0)?.offset).toBe('13');
  });

  it('round-trips its checkpoint through offset metadata and ignores metadata it did not write', () => {
    const checkpoint = { watermarkUs: 1_742_567_400_123_456, lastOffset: '99', maxRevision: 2 };
    expect(decodeCheckpoint(encodeCheckpoint(checkpoint))).toEqual(checkpoint);
    expect(encodeCheckpoint(checkpoint).length).toBeLessThan(200);
    for (const foreign of [null, '', 'not json', '{"v":2}', '{"v":1,"wm":1.5,"last":"1","rev":0}', '{"v":1,"wm":null,"last":"-1","rev":0}']) {
      expect(decodeCheckpoint(foreign)).toBeUndefined();
    }
  });
});
