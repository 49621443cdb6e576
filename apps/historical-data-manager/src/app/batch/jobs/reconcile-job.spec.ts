import { join } from 'node:path';
import { parseJobParams, type BatchJobRequest } from '../batch-request';
import { ns, openTestDuck, tableRows, testContext, type TestColumns, type TestDuck, writeParquet } from '../testing/batch-test-kit';
import { runCandlesJob } from './candles-job';
import { runReconcileJob } from './reconcile-job';

const T0 = ns('2026-03-02T15:00:00Z');
const S = 1_000_000_000n;

const TRADE: TestColumns = {
  kafka_partition: 'INTEGER',
  kafka_offset: 'BIGINT',
  symbol: 'VARCHAR',
  price: 'DOUBLE',
  size: 'BIGINT',
  exchange: 'VARCHAR',
  tradeId: 'VARCHAR',
  ts: 'BIGINT',
};

/** The archived layout of candles.* (Candle v1): windowStart as decimal text, ts = windowEnd. */
const REALTIME: TestColumns = {
  kafka_partition: 'INTEGER',
  kafka_offset: 'BIGINT',
  symbol: 'VARCHAR',
  interval: 'VARCHAR',
  windowStart: 'VARCHAR',
  windowEnd: 'VARCHAR',
  open: 'DOUBLE',
  high: 'DOUBLE',
  low: 'DOUBLE',
  close: 'DOUBLE',
  volume: 'BIGINT',
  vwap: 'DOUBLE',
  trades: 'BIGINT',
  revision: 'BIGINT',
  final: 'BOOLEAN',
  ts: 'BIGINT',
};

const request = (params: Record<string, unknown> = {}): BatchJobRequest => ({
  job: 'reconcile',
  fromNs: T0,
  toNs: T0 + 60n * S,
  symbols: [],
  params: parseJobParams('reconcile', { intervals: ['1s', '10s'], ...params }),
});

describe('reconcile job: batch candles against the archived real-time candles', () => {
  let duck: TestDuck;
  let tradesPath: string;
  /** Real-time candles equal to the batch ones (what a correct speed layer emits), per interval. */
  let realtime: Record<string, Record<string, unknown>[]>;

  beforeAll(async () => {
    duck = await openTestDuck();
    const trades: Record<string, unknown>[] = [];
    for (let i = 0; i < 120; i++) {
      trades.push({
        kafka_partition: i % 2,
        kafka_offset: BigInt(i),
        symbol: i % 3 === 0 ? 'SPY' : 'QQQ',
        price: 400 + (i % 17) / 100,
        size: BigInt(1 + (i % 9)),
        exchange: 'Q',
        tradeId: `t${i}`,
        ts: T0 + BigInt(i) * 450_000_000n,
      });
    }
    tradesPath = await writeParquet(duck.connection, join(duck.dir, 'trades.parquet'), TRADE, trades);
    // the speed layer's candles, derived from the batch candles of the same trades
    const candles = await runCandlesJob(
      testContext(duck.connection, { ...request(), job: 'candles', params: parseJobParams('candles', { intervals: ['1s', '10s'] }) }, {
        market_trades: [tradesPath],
      }),
    );
    realtime = {};
    for (const out of candles.outputs) {
      const rows = await tableRows(duck.connection, out.table, 'symbol, ts');
      realtime[out.dataset.replace('gold_candles_', '')] = rows.map((r, i) => ({
        ...r,
        kafka_partition: 0,
        kafka_offset: BigInt(i),
        windowStart: String(r['windowStart']),
        windowEnd: String(r['windowEnd']),
        revision: 0n,
        final: true,
        ts: r['windowEnd'],
      }));
    }
  });
  afterAll(() => duck.close());

  async function reconcile(rt: Record<string, Record<string, unknown>[]>, params: Record<string, unknown> = {}) {
    const files: Record<string, string[]> = { market_trades: [tradesPath] };
    for (const [interval, rows] of Object.entries(rt)) {
      files[`candles_${interval}`] = [await writeParquet(duck.connection, join(duck.dir, `rt-${interval}-${Math.random()}.parquet`), REALTIME, rows)];
    }
    const context = testContext(duck.connection, request(params), files);
    const output = await runReconcileJob(context);
    return { output, context, rows: await tableRows(duck.connection, 'reconciliation', '"interval", symbol, ts') };
  }

  it('reports zero difference when the real-time candles equal the batch ones', async () => {
    const { output, rows } = await reconcile(realtime);
    const windows = (realtime['1s']?.length ?? 0) + (realtime['10s']?.length ?? 0);
    expect(windows).toBeGreaterThan(10);
    expect(output.summary).toMatchObject({
      windows,
      matched: windows,
      mismatched: 0,
      missingRealtime: 0,
      missingBatch: 0,
      driftPercent: 0,
      differences: [],
    });
    expect(rows.every((r) => r['status'] === 'matched' && r['differingFields'] === '')).toBe(true);
  });

  it('keeps the latest revision of a real-time candle, as the compacted topic does', async () => {
    const first = realtime['1s']?.[0] as Record<string, unknown>;
    const stale = { ...first, close: 1, volume: 1n, revision: 0n, kafka_offset: 1000n };
    const latest = { ...first, revision: 1n, kafka_offset: 999n };
    const { output } = await reconcile({ '1s': [stale, latest, ...(realtime['1s']?.slice(1) ?? [])], '10s': realtime['10s'] ?? [] });
    expect(output.summary).toMatchObject({ mismatched: 0, driftPercent: 0 });
  });

  it('finds an injected difference, a window missing on each side, and reports the drift', async () => {
    const oneSecond = [...(realtime['1s'] ?? [])];
    const changed = oneSecond[3] as Record<string, unknown>;
    oneSecond[3] = { ...changed, vwap: (changed['vwap'] as number) + 1e-9, trades: (changed['trades'] as bigint) - 1n };
    const dropped = oneSecond.splice(5, 1)[0] as Record<string, unknown>;
    const phantom = { ...changed, windowStart: String(T0 + 59n * S + 0n), windowEnd: String(T0 + 60n * S), ts: T0 + 60n * S, symbol: 'IWM' };
    oneSecond.push(phantom);
    const { output, rows } = await reconcile({ '1s': oneSecond, '10s': realtime['10s'] ?? [] });
    const windows = (realtime['1s']?.length ?? 0) + (realtime['10s']?.length ?? 0) + 1;
    const summary = output.summary as Record<string, unknown>;
    expect(summary).toMatchObject({ windows, matched: windows - 3, mismatched: 1, missingRealtime: 1, missingBatch: 1 });
    expect(summary['driftPercent']).toBeCloseTo((3 / windows) * 100, 10);
    expect(summary['byInterval']).toMatchObject({ '10s': { mismatched: 0, driftPercent: 0 }, '1s': { mismatched: 1, missingRealtime: 1, missingBatch: 1 } });
    expect(summary['fieldDifferences']).toMatchObject({
      vwap: { windows: 1 },
      trades: { windows: 1, maxAbsDifference: 1 },
      open: { windows: 0, maxAbsDifference: null },
    });
    expect(rows.find((r) => r['status'] === 'mismatched')).toMatchObject({
      symbol: changed['symbol'],
      windowStart: BigInt(changed['windowStart'] as string),
      differingFields: 'vwap,trades',
      batchVwap: changed['vwap'],
      realtimeVwap: (changed['vwap'] as number) + 1e-9,
    });
    expect(rows.find((r) => r['status'] === 'missing_realtime')).toMatchObject({ symbol: dropped['symbol'], windowStart: BigInt(dropped['windowStart'] as string) });
    expect(rows.find((r) => r['status'] === 'missing_batch')).toMatchObject({ symbol: 'IWM', interval: '1s' });
    expect((summary['differences'] as unknown[]).length).toBe(3);
  });

  it('reads the real-time candles of the range by their window end (their event time)', async () => {
    const { context } = await reconcile(realtime);
    expect(context.asked).toContainEqual({ dataset: 'candles_10s', fromNs: T0 + 10n * S, toNs: T0 + 70n * S, symbols: [] });
  });
});
