import type { BatchJobContext, BatchJobOutput } from '../batch-job';
import { countOf, type InputColumn, parquetRelation, rangeFilter, rowsOf } from '../batch-sql';
import { loadRealtimeCandles } from './reconcile-job';

const MINUTE_NS = 60_000_000_000n;

/** Columns of gold_candles_1m the features are computed from. */
const GOLD_CANDLE_COLUMNS: InputColumn[] = [
  { name: 'symbol', type: 'VARCHAR' },
  { name: 'windowStart', type: 'BIGINT' },
  { name: 'close', type: 'DOUBLE' },
  { name: 'volume', type: 'BIGINT' },
  { name: 'vwap', type: 'DOUBLE' },
  { name: 'ts', type: 'BIGINT' },
];

export interface RecursiveFeatures {
  ema: (number | null)[];
  rsi: (number | null)[];
}

/**
 * EMA and RSI of one symbol's closes in time order (recursive, so finished here over the ordered
 * SQL output rather than in SQL):
 * - EMA(n): alpha = 2 / (n + 1), seeded with the simple mean of the first n closes (at the n-th
 *   candle), then ema = alpha x close + (1 - alpha) x previous ema;
 * - RSI(n), Wilder's: the first average gain and loss are the means of the first n close-to-close
 *   changes (at the (n+1)-th candle), then avg = (previous x (n - 1) + current) / n;
 *   RSI = 100 - 100 / (1 + gain / loss); 100 when there was no loss, 50 when nothing moved.
 * Null until a value has its history.
 */
export function recursiveFeatures(closes: readonly number[], emaPeriod: number, rsiPeriod: number): RecursiveFeatures {
  const ema: (number | null)[] = [];
  const rsi: (number | null)[] = [];
  const alpha = 2 / (emaPeriod + 1);
  let seedSum = 0;
  let current: number | null = null;
  let gains = 0;
  let losses = 0;
  let avgGain = 0;
  let avgLoss = 0;
  closes.forEach((close, i) => {
    if (i < emaPeriod) {
      seedSum += close;
      if (i === emaPeriod - 1) current = seedSum / emaPeriod;
    } else {
      current = alpha * close + (1 - alpha) * (current as number);
    }
    ema.push(current);

    if (i === 0) {
      rsi.push(null);
      return;
    }
    const change = close - (closes[i - 1] as number);
    const gain = change > 0 ? change : 0;
    const loss = change < 0 ? -change : 0;
    if (i <= rsiPeriod) {
      gains += gain;
      losses += loss;
      if (i < rsiPeriod) {
        rsi.push(null);
        return;
      }
      avgGain = gains / rsiPeriod;
      avgLoss = losses / rsiPeriod;
    } else {
      avgGain = (avgGain * (rsiPeriod - 1) + gain) / rsiPeriod;
      avgLoss = (avgLoss * (rsiPeriod - 1) + loss) / rsiPeriod;
    }
    rsi.push(avgLoss === 0 ? (avgGain === 0 ? 50 : 100) : 100 - 100 / (1 + avgGain / avgLoss));
  });
  return { ema, rsi };
}

/**
 * `features`: per symbol and 1 min candle of the range, SMA, EMA, RSI, rolling VWAP and realized
 * volatility, from gold_candles_1m (or the speed layer's archived candles_1m, latest revision).
 * Periods count candles (minutes without trades have none). `warmup` candles before `from` are
 * read so the first candles of the range have their history; rows are written for the range only.
 *
 * SQL (window functions): SMA(n) = mean close of the last n candles; VWAP(n) = sum(vwap x volume)
 * / sum(volume) over the last n candles; realized volatility(n) = sqrt(sum of squared log returns
 * close-to-close over the last n returns), not annualised. EMA and RSI: {@link recursiveFeatures}.
 */
export async function runFeaturesJob(context: BatchJobContext): Promise<BatchJobOutput> {
  const { request, connection } = context;
  if (request.job !== 'features') throw new Error(`not a features request: ${request.job}`);
  const p = request.params;
  const readFrom = request.fromNs - BigInt(p.warmup) * MINUTE_NS;
  let source: string;
  if (p.source === 'batch') {
    const paths = await context.input({ dataset: 'gold_candles_1m', fromNs: readFrom, toNs: request.toNs, symbols: request.symbols });
    source = `SELECT symbol, "windowStart", close, volume, vwap
                FROM (${parquetRelation(paths, GOLD_CANDLE_COLUMNS, rangeFilter(readFrom, request.toNs, request.symbols))})`;
  } else {
    source = `SELECT symbol, "windowStart", close, volume, vwap
                FROM (${await loadRealtimeCandles(context, 'candles_1m', '1m', readFrom, request.toNs)})`;
  }
  await connection.run(`CREATE OR REPLACE TEMP TABLE feature_candles AS ${source}`);
  const inputRows = await countOf(connection, 'SELECT count(*) FROM feature_candles');
  context.progress(0.2, 'features: window functions');

  const frame = (n: number) => `(PARTITION BY symbol ORDER BY "windowStart" ROWS BETWEEN ${n - 1} PRECEDING AND CURRENT ROW)`;
  await connection.run(`
    CREATE OR REPLACE TEMP TABLE feature_windows AS
    WITH returns AS (
      SELECT *, ln(close / lag(close) OVER (PARTITION BY symbol ORDER BY "windowStart")) AS log_return FROM feature_candles
    )
    SELECT symbol, "windowStart", close, volume,
           CASE WHEN count(*) OVER sma_frame = ${p.smaPeriod} THEN avg(close) OVER sma_frame END AS sma,
           CASE WHEN count(*) OVER vwap_frame = ${p.vwapPeriod}
                THEN sum(vwap * volume) OVER vwap_frame / sum(volume) OVER vwap_frame END AS vwap,
           CASE WHEN count(log_return) OVER vol_frame = ${p.volatilityPeriod}
                THEN sqrt(sum(log_return * log_return) OVER vol_frame) END AS "realizedVolatility"
      FROM returns
    WINDOW sma_frame AS ${frame(p.smaPeriod)}, vwap_frame AS ${frame(p.vwapPeriod)}, vol_frame AS ${frame(p.volatilityPeriod)}`);

  context.progress(0.5, 'features: EMA and RSI');
  const ordered = await rowsOf(connection, `SELECT symbol, "windowStart", close FROM feature_candles ORDER BY symbol, "windowStart"`);
  await connection.run(`CREATE OR REPLACE TEMP TABLE feature_recursive (symbol VARCHAR, "windowStart" BIGINT, ema DOUBLE, rsi DOUBLE)`);
  const appender = await connection.createAppender('feature_recursive');
  for (let start = 0; start < ordered.length; ) {
    const symbol = ordered[start]?.['symbol'];
    let end = start;
    while (end < ordered.length && ordered[end]?.['symbol'] === symbol) end++;
    const series = ordered.slice(start, end);
    const { ema, rsi } = recursiveFeatures(series.map((r) => Number(r['close'])), p.emaPeriod, p.rsiPeriod);
    series.forEach((row, i) => {
      appender.appendVarchar(String(symbol));
      appender.appendBigInt(BigInt(row['windowStart'] as bigint));
      const e = ema[i];
      const r = rsi[i];
      if (e == null) appender.appendNull();
      else appender.appendDouble(e);
      if (r == null) appender.appendNull();
      else appender.appendDouble(r);
      appender.endRow();
    });
    start = end;
  }
  appender.closeSync();

  context.progress(0.8, 'features: output');
  await connection.run(`
    CREATE OR REPLACE TEMP TABLE features AS
    SELECT w.symbol, w."windowStart", w."windowStart" + ${MINUTE_NS} AS "windowEnd", w.close, w.volume,
           w.sma, r.ema, r.rsi, w.vwap, w."realizedVolatility",
           ${p.smaPeriod} AS "smaPeriod", ${p.emaPeriod} AS "emaPeriod", ${p.rsiPeriod} AS "rsiPeriod",
           ${p.vwapPeriod} AS "vwapPeriod", ${p.volatilityPeriod} AS "volatilityPeriod",
           w."windowStart" AS ts
      FROM feature_windows w JOIN feature_recursive r ON r.symbol = w.symbol AND r."windowStart" = w."windowStart"
     WHERE w."windowStart" >= ${request.fromNs} AND w."windowStart" < ${request.toNs}`);
  const rows = await countOf(connection, 'SELECT count(*) FROM features');
  return {
    outputs: [{ dataset: 'gold_features_1m', table: 'features', symbolColumn: 'symbol', orderBy: ['ts', 'symbol'] }],
    inputRows,
    summary: {
      candles: inputRows,
      featureRows: rows,
      source: p.source === 'batch' ? 'gold_candles_1m' : 'candles_1m',
      periods: {
        sma: p.smaPeriod,
        ema: p.emaPeriod,
        rsi: p.rsiPeriod,
        vwap: p.vwapPeriod,
        volatility: p.volatilityPeriod,
        warmup: p.warmup,
      },
    },
  };
}
