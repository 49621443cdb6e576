// historical-data-manager batch layer: trades/s of the candles job (1s, 10s and 1m candles with
// exact decimal VWAP) and of the reconcile job, in process, over archive-format Parquet files on
// local disk (no S3, no catalog: the SQL alone).
//
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/batch-jobs.ts
//
// Data: BENCH_TRADES (1,000,000) trades of 20 symbols over one hour in 4 source partitions,
// written by the archive's ParquetPartitionWriter. Each figure is the median of BENCH_REPEATS (3)
// runs with BENCH_THREADS (2) DuckDB threads. Baseline in the same run: the same candles with plain
// floating-point SQL (sum(price * size) / sum(size), open/close by ts only), to show what the exact
// arithmetic and the speed layer's tie order cost. Results go to bench-results/batch-jobs.json.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { CATALOG } from '@tributary/contracts';
import {
  archiveColumnsOf,
  type ArchiveRecord,
  ParquetPartitionWriter,
} from '../../apps/historical-data-manager/src/app/archive/parquet-partition-writer';
import { parseJobParams, type BatchJobRequest } from '../../apps/historical-data-manager/src/app/batch/batch-request';
import { defineExactDecimalMacros } from '../../apps/historical-data-manager/src/app/batch/batch-sql';
import { runCandlesJob } from '../../apps/historical-data-manager/src/app/batch/jobs/candles-job';
import { runReconcileJob } from '../../apps/historical-data-manager/src/app/batch/jobs/reconcile-job';
import type { BatchJobContext } from '../../apps/historical-data-manager/src/app/batch/batch-job';

const TRADES = Number(process.env['BENCH_TRADES'] ?? 1_000_000);
const REPEATS = Number(process.env['BENCH_REPEATS'] ?? 3);
const THREADS = Number(process.env['BENCH_THREADS'] ?? 2);
const T0 = BigInt(Date.parse('2026-03-02T14:00:00Z')) * 1_000_000n;
const HOUR = 3_600_000_000_000n;
const SYMBOLS = Array.from({ length: 20 }, (_, i) => `SYM${i}`);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

async function main(): Promise<void> {
  const writer = await ParquetPartitionWriter.open({ threads: THREADS });
  const columns = archiveColumnsOf(CATALOG['market.trades'].schema);
  const paths: string[] = [];
  const partitions = 4;
  for (let p = 0; p < partitions; p++) {
    const records: ArchiveRecord[] = [];
    for (let i = p; i < TRADES; i += partitions) {
      const ts = T0 + (BigInt(i) * HOUR) / BigInt(TRADES);
      const symbol = SYMBOLS[i % SYMBOLS.length] as string;
      records.push({
        offset: BigInt(records.length),
        key: symbol,
        eventTimeNs: ts,
        value: { symbol, price: Math.round((100 + ((i * 7919) % 10_000) / 97) * 100) / 100, size: 1 + (i % 500), exchange: 'Q', tradeId: `t${i}`, conditions: [], ts: ts.toString() },
      });
    }
    paths.push(...(await writer.write(p, columns, records)).map((f) => f.path));
  }
  writer.close();

  const duck = await DuckDBInstance.create(':memory:', { threads: String(THREADS) });
  const request = (job: 'candles' | 'reconcile'): BatchJobRequest =>
    job === 'candles'
      ? { job, fromNs: T0, toNs: T0 + HOUR, symbols: [], params: parseJobParams('candles', {}) }
      : { job, fromNs: T0, toNs: T0 + HOUR, symbols: [], params: parseJobParams('reconcile', {}) };

  async function timed(work: (connection: Awaited<ReturnType<DuckDBInstance['connect']>>) => Promise<void>): Promise<number> {
    const times: number[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const connection = await duck.connect();
      await defineExactDecimalMacros(connection);
      const started = performance.now();
      await work(connection);
      times.push(performance.now() - started);
      connection.closeSync();
    }
    return median(times);
  }

  const context = (connection: BatchJobContext['connection'], job: 'candles' | 'reconcile', realtime: string[] = []): BatchJobContext => ({
    connection,
    request: request(job),
    input: async (range) => (range.dataset === 'market_trades' ? paths : realtime),
    progress: () => undefined,
  });

  const list = paths.map((p) => `'${p}'`).join(', ');
  const baselineMs = await timed(async (connection) => {
    for (const length of [1_000_000_000n, 10_000_000_000n, 60_000_000_000n]) {
      await connection.run(`CREATE OR REPLACE TEMP TABLE naive AS
        SELECT symbol, ts - ts % ${length} AS ws, arg_min(price, ts) AS open, max(price) AS high, min(price) AS low,
               arg_max(price, ts) AS close, sum(size) AS volume, sum(price * size) / sum(size) AS vwap, count(*) AS trades
          FROM read_parquet([${list}]) GROUP BY ALL`);
    }
  });
  const candlesMs = await timed(async (connection) => {
    await runCandlesJob(context(connection, 'candles'));
  });

  // the real-time side of reconcile: the batch candles themselves, in the archived candle layout
  const setup = await duck.connect();
  await defineExactDecimalMacros(setup);
  const realtime: string[] = [];
  const out = await runCandlesJob(context(setup, 'candles'));
  for (const o of out.outputs) {
    const path = join(paths[0]?.slice(0, paths[0].lastIndexOf('/')) as string, `rt-${o.table}.parquet`);
    await setup.run(`COPY (SELECT 0 AS kafka_partition, row_number() OVER () AS kafka_offset, symbol, CAST("windowStart" AS VARCHAR) AS "windowStart",
        open, high, low, close, volume, vwap, trades, 0::BIGINT AS revision, true AS "final", "windowEnd" AS ts FROM ${o.table}) TO '${path}' (FORMAT parquet)`);
    realtime.push(path);
  }
  setup.closeSync();
  let report: Record<string, unknown> = {};
  const reconcileMs = await timed(async (connection) => {
    const result = await runReconcileJob({
      ...context(connection, 'reconcile'),
      input: async (range) => (range.dataset === 'market_trades' ? paths : realtime.filter((p) => p.endsWith(`rt-candles_${range.dataset.slice('candles_'.length)}.parquet`))),
    });
    report = result.summary;
  });
  duck.closeSync();
  for (const dir of new Set(paths.map((p) => p.slice(0, p.lastIndexOf('/'))))) rmSync(dir, { recursive: true, force: true });

  const results = {
    at: new Date().toISOString(),
    trades: TRADES,
    threads: THREADS,
    repeats: REPEATS,
    baselineFloatCandles: { ms: Math.round(baselineMs), tradesPerSecond: Math.round(TRADES / (baselineMs / 1000)) },
    candlesJob: { ms: Math.round(candlesMs), tradesPerSecond: Math.round(TRADES / (candlesMs / 1000)) },
    reconcileJob: {
      ms: Math.round(reconcileMs),
      tradesPerSecond: Math.round(TRADES / (reconcileMs / 1000)),
      windows: report['windows'],
      driftPercent: report['driftPercent'],
    },
  };
  console.log(JSON.stringify(results, null, 2));
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(join('bench-results', 'batch-jobs.json'), JSON.stringify(results, null, 2) + '\n');
  console.log('written to bench-results/batch-jobs.json');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
