import type { BatchJobContext, BatchJobOutput } from '../batch-job';
import { CANDLE_INTERVAL_NS, type CandleIntervalName } from '../batch-request';
import { countOf, type InputColumn, parquetRelation, rangeFilter } from '../batch-sql';

/** Columns of the archived trades (market.trades) the candles are made of. */
export const TRADE_COLUMNS: InputColumn[] = [
  { name: 'symbol', type: 'VARCHAR' },
  { name: 'price', type: 'DOUBLE' },
  { name: 'size', type: 'BIGINT' },
  { name: 'exchange', type: 'VARCHAR' },
  { name: 'tradeId', type: 'VARCHAR' },
  { name: 'ts', type: 'BIGINT' },
  { name: 'kafka_partition', type: 'INTEGER' },
  { name: 'kafka_offset', type: 'BIGINT' },
];

/**
 * Creates the temp table `trades`: the archived trades of the run's range and symbols, with the
 * exact decimal of each price (`units`, `scale`). Returns the number of trades.
 */
export async function loadTrades(context: BatchJobContext, tradesDataset: string): Promise<number> {
  const { request, connection } = context;
  const paths = await context.input({
    dataset: tradesDataset,
    fromNs: request.fromNs,
    toNs: request.toNs,
    symbols: request.symbols,
  });
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE trades AS
       SELECT *, tb_price_units(price) AS units, tb_price_scale(price) AS scale
         FROM (${parquetRelation(paths, TRADE_COLUMNS, rangeFilter(request.fromNs, request.toNs, request.symbols))})`,
  );
  return countOf(connection, 'SELECT count(*) FROM trades');
}

/**
 * OHLCV candles of the `trades` table for one interval, with the speed layer's semantics
 * (kafka-gateway CandleAggregator): windows [start, start + length) on event time; open and close
 * are the first and last trade in the order (ts, exchange, tradeId, price, size, partition,
 * offset), so equal event times never depend on arrival order; volume and trade count; VWAP the
 * exact sum of price x size (each price the decimal it prints as) over the volume, rounded once to
 * the nearest double; `notional` that exact sum as decimal text. `ts` is the window start.
 */
export function candlesSql(interval: CandleIntervalName): string {
  const length = CANDLE_INTERVAL_NS[interval];
  const order = `(ts, exchange, "tradeId", price, size, kafka_partition, kafka_offset)`;
  return `
    WITH windowed AS (
      SELECT *, ts - ts % ${length} AS window_start FROM trades
    ), scaled AS (
      SELECT *, max(scale) OVER (PARTITION BY symbol, window_start) AS window_scale FROM windowed
    )
    SELECT symbol,
           '${interval}' AS "interval",
           window_start AS "windowStart",
           window_start + ${length} AS "windowEnd",
           arg_min(price, ${order}) AS open,
           max(price) AS high,
           min(price) AS low,
           arg_max(price, ${order}) AS close,
           CAST(sum(size) AS BIGINT) AS volume,
           tb_exact_quotient(sum(units * size * tb_pow10(window_scale - scale)), max(window_scale), sum(size)) AS vwap,
           tb_decimal_text(sum(units * size * tb_pow10(window_scale - scale)), max(window_scale)) AS notional,
           CAST(count(*) AS BIGINT) AS trades,
           window_start AS ts
      FROM scaled
     GROUP BY symbol, window_start`;
}

/** `candles`: gold_candles_1s / 10s / 1m from the archived trades. */
export async function runCandlesJob(context: BatchJobContext): Promise<BatchJobOutput> {
  const { request, connection } = context;
  if (request.job !== 'candles') throw new Error(`not a candles request: ${request.job}`);
  const inputRows = await loadTrades(context, request.params.tradesDataset);
  const outputs: BatchJobOutput['outputs'] = [];
  const counts: Record<string, number> = {};
  for (const [index, interval] of request.params.intervals.entries()) {
    context.progress(index / request.params.intervals.length, `candles ${interval}`);
    const table = `candles_${interval}`;
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${table} AS ${candlesSql(interval)}`);
    counts[interval] = await countOf(connection, `SELECT count(*) FROM ${table}`);
    outputs.push({ dataset: `gold_candles_${interval}`, table, symbolColumn: 'symbol', orderBy: ['ts', 'symbol'] });
  }
  return { outputs, inputRows, summary: { trades: inputRows, candles: counts } };
}
