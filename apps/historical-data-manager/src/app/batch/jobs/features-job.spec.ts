import { join } from 'node:path';
import { parseJobParams, type BatchJobRequest } from '../batch-request';
import { ns, openTestDuck, tableRows, testContext, type TestColumns, type TestDuck, writeParquet } from '../testing/batch-test-kit';
import { recursiveFeatures, runFeaturesJob } from './features-job';

const M = 60_000_000_000n;
const T0 = ns('2026-03-02T15:00:00Z');
const GOLD_CANDLE: TestColumns = { symbol: 'VARCHAR', windowStart: 'BIGINT', close: 'DOUBLE', volume: 'BIGINT', vwap: 'DOUBLE', ts: 'BIGINT' };

describe('features job: SMA, EMA, RSI, VWAP and realized volatility per symbol from 1 min candles', () => {
  let duck: TestDuck;
  beforeAll(async () => {
    duck = await openTestDuck();
  });
  afterAll(() => duck.close());

  it('computes EMA (seeded with the SMA) and Wilder RSI as by hand', () => {
    const { ema, rsi } = recursiveFeatures([10, 11, 12, 11, 13], 3, 3);
    // alpha = 0.5; seed (10 + 11 + 12) / 3 = 11; then 0.5 * 11 + 0.5 * 11 = 11; 0.5 * 13 + 0.5 * 11 = 12
    expect(ema).toEqual([null, null, 11, 11, 12]);
    // changes +1 +1 -1: gain 2/3, loss 1/3, RS 2 -> 66.67; then +2: gain (4/3 + 2) / 3 = 10/9, loss (2/3) / 3 = 2/9, RS 5 -> 83.33
    expect(rsi.slice(0, 3)).toEqual([null, null, null]);
    expect(rsi[3]).toBeCloseTo(100 - 100 / 3, 12);
    expect(rsi[4]).toBeCloseTo(100 - 100 / 6, 12);
  });

  it('gives RSI 100 without losses and 50 when nothing moved', () => {
    expect(recursiveFeatures([1, 2, 3], 2, 2).rsi[2]).toBe(100);
    expect(recursiveFeatures([5, 5, 5], 2, 2).rsi[2]).toBe(50);
  });

  it('writes features for the candles of the range, using the warm-up candles before it as history', async () => {
    const closes = [10, 11, 12, 11, 13];
    const volumes = [100n, 200n, 100n, 300n, 100n];
    const vwaps = [10.5, 11.5, 11.5, 11.0, 12.5];
    const rows = closes.flatMap((close, i) => [
      { symbol: 'AAPL', windowStart: T0 + BigInt(i) * M, close, volume: volumes[i], vwap: vwaps[i], ts: T0 + BigInt(i) * M },
      // another symbol, interleaved, must not leak into AAPL's windows
      { symbol: 'MSFT', windowStart: T0 + BigInt(i) * M, close: 1000 - i, volume: 1n, vwap: 1000 - i, ts: T0 + BigInt(i) * M },
    ]);
    const path = await writeParquet(duck.connection, join(duck.dir, 'gold-candles.parquet'), GOLD_CANDLE, rows);
    const request: BatchJobRequest = {
      job: 'features',
      // the range holds the last three candles; the two before are warm-up
      fromNs: T0 + 2n * M,
      toNs: T0 + 5n * M,
      symbols: [],
      params: parseJobParams('features', { smaPeriod: 3, emaPeriod: 3, rsiPeriod: 3, vwapPeriod: 2, volatilityPeriod: 2, warmup: 3 }),
    };
    const context = testContext(duck.connection, request, { gold_candles_1m: [path] });
    const output = await runFeaturesJob(context);
    expect(context.asked).toEqual([{ dataset: 'gold_candles_1m', fromNs: T0 - M, toNs: T0 + 5n * M, symbols: [] }]);
    const features = (await tableRows(duck.connection, 'features', 'symbol, ts')).filter((r) => r['symbol'] === 'AAPL');
    expect(features.map((f) => f['windowStart'])).toEqual([T0 + 2n * M, T0 + 3n * M, T0 + 4n * M]);
    const r = (a: number, b: number) => Math.log(b / a);
    const expected = [
      { sma: 11, ema: 11, rsi: null, vwap: (11.5 * 200 + 11.5 * 100) / 300, vol: Math.sqrt(r(10, 11) ** 2 + r(11, 12) ** 2) },
      { sma: 34 / 3, ema: 11, rsi: 100 - 100 / 3, vwap: (11.5 * 100 + 11.0 * 300) / 400, vol: Math.sqrt(r(11, 12) ** 2 + r(12, 11) ** 2) },
      { sma: 12, ema: 12, rsi: 100 - 100 / 6, vwap: (11.0 * 300 + 12.5 * 100) / 400, vol: Math.sqrt(r(12, 11) ** 2 + r(11, 13) ** 2) },
    ];
    features.forEach((row, i) => {
      const want = expected[i] as (typeof expected)[number];
      expect(row['sma']).toBeCloseTo(want.sma, 12);
      expect(row['ema']).toBeCloseTo(want.ema, 12);
      if (want.rsi === null) expect(row['rsi']).toBeNull();
      else expect(row['rsi']).toBeCloseTo(want.rsi, 12);
      expect(row['vwap']).toBeCloseTo(want.vwap, 12);
      expect(row['realizedVolatility']).toBeCloseTo(want.vol, 12);
      expect(row).toMatchObject({ smaPeriod: 3, emaPeriod: 3, rsiPeriod: 3, vwapPeriod: 2, volatilityPeriod: 2, close: closes[i + 2] });
    });
    expect(output.summary).toMatchObject({ candles: 10, featureRows: 6 });
  });

  it('leaves a feature null until it has its full period of candles', async () => {
    const rows = [0, 1, 2].map((i) => ({ symbol: 'NEW', windowStart: T0 + BigInt(i) * M, close: 10 + i, volume: 1n, vwap: 10 + i, ts: T0 + BigInt(i) * M }));
    const path = await writeParquet(duck.connection, join(duck.dir, 'short.parquet'), GOLD_CANDLE, rows);
    const request: BatchJobRequest = {
      job: 'features',
      fromNs: T0,
      toNs: T0 + 3n * M,
      symbols: [],
      params: parseJobParams('features', { smaPeriod: 3, emaPeriod: 3, rsiPeriod: 3, vwapPeriod: 3, volatilityPeriod: 3 }),
    };
    await runFeaturesJob(testContext(duck.connection, request, { gold_candles_1m: [path] }));
    const features = await tableRows(duck.connection, 'features', 'ts');
    expect(features.map((f) => f['sma'])).toEqual([null, null, 11]);
    expect(features.map((f) => f['realizedVolatility'])).toEqual([null, null, null]);
    expect(features.map((f) => f['rsi'])).toEqual([null, null, null]);
  });
});
