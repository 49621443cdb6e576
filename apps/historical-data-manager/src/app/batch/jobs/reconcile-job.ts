import type { BatchJobContext, BatchJobOutput } from '../batch-job';
import { CANDLE_INTERVAL_NS, type CandleIntervalName } from '../batch-request';
import { countOf, type InputColumn, parquetRelation, quote, rangeFilter, rowsOf } from '../batch-sql';
import { candlesSql, loadTrades } from './candles-job';

/** Columns of the speed layer's archived candles (candles.1s / 10s / 1m, Candle v1). */
export const REALTIME_CANDLE_COLUMNS: InputColumn[] = [
  { name: 'symbol', type: 'VARCHAR' },
  { name: 'windowStart', type: 'VARCHAR' },
  { name: 'open', type: 'DOUBLE' },
  { name: 'high', type: 'DOUBLE' },
  { name: 'low', type: 'DOUBLE' },
  { name: 'close', type: 'DOUBLE' },
  { name: 'volume', type: 'BIGINT' },
  { name: 'vwap', type: 'DOUBLE' },
  { name: 'trades', type: 'BIGINT' },
  { name: 'revision', type: 'BIGINT' },
  { name: 'final', type: 'BOOLEAN' },
  { name: 'ts', type: 'BIGINT' },
  { name: 'kafka_partition', type: 'INTEGER' },
  { name: 'kafka_offset', type: 'BIGINT' },
];

/** The candle fields compared, in report order. */
export const COMPARED_FIELDS = ['open', 'high', 'low', 'close', 'volume', 'vwap', 'trades'] as const;

/**
 * SQL of the real-time candles of one interval whose window starts in `[fromNs, toNs)`, the
 * latest revision of each (symbol, windowStart) (what the compacted topic keeps). A candle's
 * event time is its window end, so the files are those of `[from + length, to + length)`.
 */
export async function loadRealtimeCandles(
  context: BatchJobContext,
  dataset: string,
  interval: CandleIntervalName,
  fromNs = context.request.fromNs,
  toNs = context.request.toNs,
): Promise<string> {
  const { request } = context;
  const length = CANDLE_INTERVAL_NS[interval];
  const paths = await context.input({ dataset, fromNs: fromNs + length, toNs: toNs + length, symbols: request.symbols });
  const filter = rangeFilter(fromNs + length, toNs + length, request.symbols);
  return `
    SELECT symbol, CAST("windowStart" AS BIGINT) AS "windowStart", open, high, low, close, volume, vwap, trades,
           revision, "final"
      FROM (${parquetRelation(paths, REALTIME_CANDLE_COLUMNS, filter)})
   QUALIFY row_number() OVER (PARTITION BY symbol, "windowStart" ORDER BY revision DESC, kafka_offset DESC, kafka_partition DESC) = 1`;
}

function reconciliationSql(interval: CandleIntervalName): string {
  const length = CANDLE_INTERVAL_NS[interval];
  const differs = (field: string) => `b.${quote(field)} IS DISTINCT FROM r.${quote(field)}`;
  const cap = (field: string) => field[0]?.toUpperCase() + field.slice(1);
  return `
    SELECT '${interval}' AS "interval",
           coalesce(b.symbol, r.symbol) AS symbol,
           coalesce(b."windowStart", r."windowStart") AS "windowStart",
           coalesce(b."windowStart", r."windowStart") + ${length} AS "windowEnd",
           CASE WHEN r.symbol IS NULL THEN 'missing_realtime'
                WHEN b.symbol IS NULL THEN 'missing_batch'
                WHEN ${COMPARED_FIELDS.map(differs).join(' OR ')} THEN 'mismatched'
                ELSE 'matched' END AS status,
           CASE WHEN b.symbol IS NOT NULL AND r.symbol IS NOT NULL
                THEN concat_ws(',', ${COMPARED_FIELDS.map((f) => `CASE WHEN ${differs(f)} THEN '${f}' END`).join(', ')})
                ELSE '' END AS "differingFields",
           ${COMPARED_FIELDS.map((f) => `b.${quote(f)} AS ${quote(`batch${cap(f)}`)}, r.${quote(f)} AS ${quote(`realtime${cap(f)}`)}`).join(',\n           ')},
           r.revision AS "realtimeRevision",
           r."final" AS "realtimeFinal",
           coalesce(b."windowStart", r."windowStart") AS ts
      FROM batch_${interval} b
      FULL OUTER JOIN realtime_${interval} r ON b.symbol = r.symbol AND b."windowStart" = r."windowStart"`;
}

/**
 * `reconcile`: the batch layer's candles (computed here from the archived trades, as the candles
 * job does) against the speed layer's archived candles, per symbol, interval and window: matched,
 * mismatched (with the fields that differ, compared exactly: the goal is zero difference), or
 * missing on either side. Writes every window to gold_candle_reconciliation and reports a summary
 * with the drift percentage (windows not matched / windows on either side).
 */
export async function runReconcileJob(context: BatchJobContext): Promise<BatchJobOutput> {
  const { request, connection } = context;
  if (request.job !== 'reconcile') throw new Error(`not a reconcile request: ${request.job}`);
  const { intervals, tradesDataset, realtimePrefix, maxReportedDifferences } = request.params;
  const inputRows = await loadTrades(context, tradesDataset);
  let realtimeRows = 0;
  for (const [index, interval] of intervals.entries()) {
    context.progress(index / (intervals.length + 1), `reconcile ${interval}`);
    await connection.run(`CREATE OR REPLACE TEMP TABLE batch_${interval} AS ${candlesSql(interval)}`);
    const realtime = await loadRealtimeCandles(context, `${realtimePrefix}${interval}`, interval);
    await connection.run(`CREATE OR REPLACE TEMP TABLE realtime_${interval} AS ${realtime}`);
    realtimeRows += await countOf(connection, `SELECT count(*) FROM realtime_${interval}`);
  }
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE reconciliation AS ${intervals.map(reconciliationSql).join(' UNION ALL ')}`,
  );
  context.progress(intervals.length / (intervals.length + 1), 'reconcile report');
  const summary = await reconciliationReport(context, intervals, maxReportedDifferences);
  return {
    outputs: [
      { dataset: 'gold_candle_reconciliation', table: 'reconciliation', symbolColumn: 'symbol', orderBy: ['ts', 'symbol', 'interval'] },
    ],
    inputRows: inputRows + realtimeRows,
    summary: { trades: inputRows, realtimeCandles: realtimeRows, ...summary },
  };
}

interface StatusCounts {
  windows: number;
  matched: number;
  mismatched: number;
  missingRealtime: number;
  missingBatch: number;
  driftPercent: number;
}

function countsOf(row: Record<string, unknown> | undefined): StatusCounts {
  const n = (name: string) => Number(row?.[name] ?? 0);
  const windows = n('windows');
  const matched = n('matched');
  return {
    windows,
    matched,
    mismatched: n('mismatched'),
    missingRealtime: n('missing_realtime'),
    missingBatch: n('missing_batch'),
    driftPercent: windows === 0 ? 0 : ((windows - matched) / windows) * 100,
  };
}

/** The report of the `reconciliation` table: counts overall and per interval, per-field differences, the first differing windows. */
async function reconciliationReport(
  context: BatchJobContext,
  intervals: readonly CandleIntervalName[],
  maxReported: number,
): Promise<Record<string, unknown>> {
  const { connection } = context;
  const countsSql = (where: string) => `
    SELECT count(*) AS windows,
           count(*) FILTER (WHERE status = 'matched') AS matched,
           count(*) FILTER (WHERE status = 'mismatched') AS mismatched,
           count(*) FILTER (WHERE status = 'missing_realtime') AS missing_realtime,
           count(*) FILTER (WHERE status = 'missing_batch') AS missing_batch
      FROM reconciliation ${where}`;
  const [overall] = await rowsOf(connection, countsSql(''));
  const byInterval: Record<string, StatusCounts> = {};
  for (const interval of intervals) {
    const [row] = await rowsOf(connection, countsSql(`WHERE "interval" = '${interval}'`));
    byInterval[interval] = countsOf(row);
  }
  const cap = (field: string) => field[0]?.toUpperCase() + field.slice(1);
  const [fieldRow] = await rowsOf(
    connection,
    `SELECT ${COMPARED_FIELDS.map(
      (f) => `count(*) FILTER (WHERE status = 'mismatched' AND "batch${cap(f)}" IS DISTINCT FROM "realtime${cap(f)}") AS ${quote(`${f}_count`)},
              max(abs(CAST("batch${cap(f)}" AS DOUBLE) - CAST("realtime${cap(f)}" AS DOUBLE)))
                FILTER (WHERE status = 'mismatched' AND "batch${cap(f)}" IS DISTINCT FROM "realtime${cap(f)}") AS ${quote(`${f}_max`)}`,
    ).join(', ')} FROM reconciliation`,
  );
  const fieldDifferences: Record<string, { windows: number; maxAbsDifference: number | null }> = {};
  for (const field of COMPARED_FIELDS) {
    const max = fieldRow?.[`${field}_max`];
    fieldDifferences[field] = { windows: Number(fieldRow?.[`${field}_count`] ?? 0), maxAbsDifference: max == null ? null : Number(max) };
  }
  const differences = await rowsOf(
    connection,
    `SELECT * EXCLUDE (ts) FROM reconciliation WHERE status <> 'matched'
      ORDER BY "windowStart", symbol, "interval" LIMIT ${maxReported}`,
  );
  return {
    ...countsOf(overall),
    byInterval,
    fieldDifferences,
    differences: differences.map((d) => ({
      ...d,
      windowStart: String(d['windowStart']),
      windowEnd: String(d['windowEnd']),
      ...Object.fromEntries(
        Object.entries(d)
          .filter(([, v]) => typeof v === 'bigint')
          .map(([k, v]) => [k, k.startsWith('window') ? String(v) : Number(v)]),
      ),
    })),
  };
}
