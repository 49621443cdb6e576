import { CATALOG } from '@tributary/contracts';
import { archiveColumnsOf, type ArchiveRecord, ParquetPartitionWriter } from '../../archive/parquet-partition-writer';
import { CANDLE_INTERVAL_NS, type CandleIntervalName, parseJobParams, type BatchJobRequest } from '../batch-request';
import { ns, openTestDuck, tableRows, testContext, type TestDuck } from '../testing/batch-test-kit';
import { runCandlesJob } from './candles-job';
import { seededRandom as seeded } from '@tributary/testing';

interface Trade {
  symbol: string;
  price: number;
  size: number;
  exchange: string;
  tradeId: string;
  ts: bigint;
  partition: number;
  offset: bigint;
}

const TRADE_COLUMNS = archiveColumnsOf(CATALOG['market.trades'].schema);
const T0 = ns('2026-03-02T14:30:00Z');

/** Writes trades as the archive does: one ParquetPartitionWriter call per source partition, files per hour. */
async function archiveTrades(writer: ParquetPartitionWriter, trades: readonly Trade[]): Promise<string[]> {
  const paths: string[] = [];
  const partitions = [...new Set(trades.map((t) => t.partition))];
  for (const partition of partitions) {
    const records: ArchiveRecord[] = trades
      .filter((t) => t.partition === partition)
      .sort((a, b) => (a.offset < b.offset ? -1 : 1))
      .map((t) => ({
        offset: t.offset,
        key: t.symbol,
        eventTimeNs: t.ts,
        value: { symbol: t.symbol, price: t.price, size: t.size, exchange: t.exchange, tradeId: t.tradeId, conditions: [], ts: t.ts.toString() },
      }));
    const files = await writer.write(partition, TRADE_COLUMNS, records);
    paths.push(...files.map((f) => f.path));
  }
  return paths;
}

function candlesRequest(fromNs: bigint, toNs: bigint, symbols: string[] = []): BatchJobRequest {
  return { job: 'candles', fromNs, toNs, symbols, params: parseJobParams('candles', {}) };
}

/** The speed layer's definition, independently: exact rationals with BigInt, one rounding at the end. */
function referenceCandles(trades: readonly Trade[], interval: CandleIntervalName): Map<string, Record<string, unknown>> {
  const length = CANDLE_INTERVAL_NS[interval];
  const order = (a: Trade, b: Trade): number =>
    a.ts !== b.ts
      ? a.ts < b.ts ? -1 : 1
      : a.exchange !== b.exchange
        ? a.exchange < b.exchange ? -1 : 1
        : a.tradeId !== b.tradeId
          ? a.tradeId < b.tradeId ? -1 : 1
          : a.price - b.price || a.size - b.size || a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0);
  const groups = new Map<string, Trade[]>();
  for (const t of trades) {
    const key = `${t.symbol}|${t.ts - (t.ts % length)}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const result = new Map<string, Record<string, unknown>>();
  for (const [key, group] of groups) {
    const sorted = [...group].sort(order);
    const decimals = group.map((t) => {
      const [whole, fraction = ''] = String(t.price).split('.');
      return { units: BigInt(`${whole}${fraction}`), scale: fraction.length, size: BigInt(t.size) };
    });
    const scale = Math.max(...decimals.map((d) => d.scale));
    const notional = decimals.reduce((sum, d) => sum + d.units * d.size * 10n ** BigInt(scale - d.scale), 0n);
    const volume = group.reduce((sum, t) => sum + t.size, 0);
    const places = scale + 24;
    const digits = ((notional * 10n ** 24n) / BigInt(volume)).toString().padStart(places + 1, '0');
    const start = (group[0] as Trade).ts - ((group[0] as Trade).ts % length);
    result.set(key, {
      open: (sorted[0] as Trade).price,
      close: (sorted[sorted.length - 1] as Trade).price,
      high: Math.max(...group.map((t) => t.price)),
      low: Math.min(...group.map((t) => t.price)),
      volume: BigInt(volume),
      trades: BigInt(group.length),
      vwap: Number(`${digits.slice(0, digits.length - places)}.${digits.slice(digits.length - places)}`),
      windowStart: start,
    });
  }
  return result;
}

describe('candles job: OHLCV and VWAP per symbol for 1s, 10s and 1m from the archived trades', () => {
  let duck: TestDuck;
  let writer: ParquetPartitionWriter;

  beforeAll(async () => {
    duck = await openTestDuck();
    writer = await ParquetPartitionWriter.open({ threads: 1 });
  });
  afterAll(() => {
    writer.close();
    duck.close();
  });

  const trade = (symbol: string, price: number, size: number, offsetNs: bigint, rest: Partial<Trade> = {}): Trade => ({
    symbol,
    price,
    size,
    exchange: 'Q',
    tradeId: `t${offsetNs}`,
    ts: T0 + offsetNs,
    partition: 0,
    offset: 0n,
    ...rest,
  });

  /** Runs the job over `trades` (offsets assigned in the given order per partition) and returns the three tables. */
  async function run(trades: Trade[], request = candlesRequest(T0, T0 + 120_000_000_000n)) {
    const next = new Map<number, bigint>();
    const placed = trades.map((t) => {
      const offset = next.get(t.partition) ?? 0n;
      next.set(t.partition, offset + 1n);
      return { ...t, offset: t.offset === 0n ? offset : t.offset };
    });
    const paths = await archiveTrades(writer, placed);
    const context = testContext(duck.connection, request, { market_trades: paths });
    const output = await runCandlesJob(context);
    const tables: Record<string, Record<string, unknown>[]> = {};
    for (const out of output.outputs) tables[out.dataset] = await tableRows(duck.connection, out.table, 'symbol, ts');
    return { output, tables, placed, context };
  }

  it("computes a window's open, high, low, close, volume, trade count and VWAP as done by hand", async () => {
    const { tables } = await run([
      trade('AAPL', 100.1, 3, 100_000_000n),
      trade('AAPL', 100.4, 1, 200_000_000n),
      trade('AAPL', 99.9, 2, 700_000_000n),
      trade('AAPL', 100.2, 4, 1_500_000_000n),
    ]);
    expect(tables['gold_candles_1s']).toEqual([
      expect.objectContaining({
        symbol: 'AAPL',
        interval: '1s',
        windowStart: T0,
        windowEnd: T0 + 1_000_000_000n,
        open: 100.1,
        high: 100.4,
        low: 99.9,
        close: 99.9,
        volume: 6n,
        trades: 3n,
        // (300.3 + 100.4 + 199.8) / 6 = 600.5 / 6
        vwap: 100.08333333333333,
        notional: '600.5',
        ts: T0,
      }),
      expect.objectContaining({ windowStart: T0 + 1_000_000_000n, open: 100.2, close: 100.2, volume: 4n, vwap: 100.2, trades: 1n }),
    ]);
    expect(tables['gold_candles_1m']).toEqual([
      // (300.3 + 100.4 + 199.8 + 400.8) / 10 = 1001.3 / 10
      expect.objectContaining({ interval: '1m', windowStart: T0, open: 100.1, high: 100.4, low: 99.9, close: 100.2, volume: 10n, trades: 4n, vwap: 100.13 }),
    ]);
  });

  it('takes VWAP from exact decimal sums: 0.1, 0.2 and 0.3 average to 0.2, not the float sum 0.20000000000000004', async () => {
    const { tables } = await run([
      trade('PENNY', 0.1, 1, 0n),
      trade('PENNY', 0.2, 1, 1n),
      trade('PENNY', 0.3, 1, 2n),
    ]);
    expect((0.1 + 0.2 + 0.3) / 3).toBe(0.20000000000000004);
    expect(tables['gold_candles_1s']?.[0]).toMatchObject({ vwap: 0.2, notional: '0.6' });
  });

  it('gives the same candles whatever the arrival order, partitions and files of the trades', async () => {
    const random = seeded(7);
    const base: Trade[] = [];
    for (let i = 0; i < 300; i++) {
      base.push(
        trade(['SPY', 'QQQ'][i % 2] as string, Math.round((400 + random() * 20) * 100) / 100, 1 + Math.floor(random() * 500), BigInt(Math.floor(random() * 90e9)), {
          tradeId: `id${i}`,
        }),
      );
    }
    const first = await run(base);
    const shuffled = [...base].sort(() => random() - 0.5).map((t, i) => ({ ...t, partition: i % 3 }));
    const second = await run(shuffled);
    for (const dataset of ['gold_candles_1s', 'gold_candles_10s', 'gold_candles_1m']) {
      expect(second.tables[dataset]).toEqual(first.tables[dataset]);
      expect(first.tables[dataset]?.length).toBeGreaterThan(0);
    }
  });

  it('orders trades at the same nanosecond by exchange, then trade id, as the speed layer does (not by arrival)', async () => {
    const { tables } = await run([
      // arrival (offset) order is the reverse of the candle order
      trade('MSFT', 410.3, 1, 5n, { exchange: 'Z', tradeId: 'a' }),
      trade('MSFT', 410.2, 1, 5n, { exchange: 'P', tradeId: 'b' }),
      trade('MSFT', 410.1, 1, 5n, { exchange: 'P', tradeId: 'a' }),
    ]);
    expect(tables['gold_candles_1s']?.[0]).toMatchObject({ open: 410.1, close: 410.3 });
  });

  it('equals the speed layer definition bit for bit on random trades with prices of any precision', async () => {
    const random = seeded(42);
    const trades: Trade[] = [];
    for (let i = 0; i < 2000; i++) {
      const decimals = [0, 2, 4, 6][i % 4] as number;
      const raw = 50 + random() * 500;
      // some prices as feeds send them, some as computed doubles (14+ significant digits)
      const price = i % 7 === 0 ? raw : Math.round(raw * 10 ** decimals) / 10 ** decimals;
      trades.push(
        trade(['AAPL', 'TSLA', 'NVDA'][i % 3] as string, price, 1 + Math.floor(random() * 10_000), BigInt(Math.floor(random() * 119e9)), {
          exchange: ['A', 'B', 'Q'][Math.floor(random() * 3)] as string,
          tradeId: `r${Math.floor(random() * 50)}`,
          partition: i % 4,
        }),
      );
    }
    const { tables } = await run(trades);
    for (const interval of ['1s', '10s', '1m'] as const) {
      const expected = referenceCandles(trades, interval);
      const rows = tables[`gold_candles_${interval}`] as Record<string, unknown>[];
      expect(rows).toHaveLength(expected.size);
      for (const row of rows) {
        const want = expected.get(`${row['symbol']}|${row['windowStart']}`);
        // numbers compare with Object.is: the VWAP double is the same to the last bit
        expect(row).toMatchObject(want as Record<string, unknown>);
      }
    }
  });

  it('aggregates only the trades of the run range and symbols', async () => {
    const { tables, output, context } = await run(
      [
        trade('AAPL', 10, 1, -1n),
        trade('AAPL', 11, 1, 0n),
        trade('MSFT', 12, 1, 0n),
        trade('AAPL', 13, 1, 59_999_999_999n),
        trade('AAPL', 14, 1, 60_000_000_000n),
      ],
      candlesRequest(T0, T0 + 60_000_000_000n, ['AAPL']),
    );
    expect(output.inputRows).toBe(2);
    expect(tables['gold_candles_1m']).toEqual([expect.objectContaining({ symbol: 'AAPL', open: 11, close: 13, trades: 2n })]);
    expect(context.asked).toEqual([{ dataset: 'market_trades', fromNs: T0, toNs: T0 + 60_000_000_000n, symbols: ['AAPL'] }]);
  });
});
