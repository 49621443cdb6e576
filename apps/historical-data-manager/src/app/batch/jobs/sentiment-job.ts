import type { BatchJobContext, BatchJobOutput } from '../batch-job';
import { AGGREGATE_WINDOW_NS } from '../batch-request';
import { countOf, type InputColumn, literal, parquetRelation, rangeFilter } from '../batch-sql';

const SENTIMENT_COLUMNS: InputColumn[] = [
  { name: 'articleId', type: 'VARCHAR' },
  // an array in the event, archived as JSON text
  { name: 'symbols', type: 'VARCHAR' },
  { name: 'sentiment', type: 'DOUBLE' },
  { name: 'confidence', type: 'DOUBLE' },
  { name: 'ts', type: 'BIGINT' },
  { name: 'kafka_partition', type: 'INTEGER' },
  { name: 'kafka_offset', type: 'BIGINT' },
];

/** A mean whose sum is exact to 1e-12 whatever order the rows are added in (one rounding, at the division). */
function exactMean(column: string): string {
  return `CAST(sum(CAST(${column} AS DECIMAL(38, 12))) AS DOUBLE) / count(${column})`;
}

/**
 * `sentiment`: news_sentiment trends per symbol and window (params.window): articles, mean, min
 * and max sentiment, mean confidence, and the change of the mean against the symbol's previous
 * window. An article counts for every symbol it names, once: a re-scored article (same articleId)
 * counts with its latest score (highest offset). `ts` is the window start; the window before
 * `from` is read for the first change.
 */
export async function runSentimentJob(context: BatchJobContext): Promise<BatchJobOutput> {
  const { request, connection } = context;
  if (request.job !== 'sentiment') throw new Error(`not a sentiment request: ${request.job}`);
  const length = AGGREGATE_WINDOW_NS[request.params.window];
  const readFrom = request.fromNs - length;
  // the files carry no symbol column (symbols is an array): no pruning by symbol there
  const paths = await context.input({ dataset: request.params.sentimentDataset, fromNs: readFrom, toNs: request.toNs, symbols: [] });
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE sentiment_input AS
       SELECT * FROM (${parquetRelation(paths, SENTIMENT_COLUMNS, rangeFilter(readFrom, request.toNs))})
      QUALIFY row_number() OVER (PARTITION BY "articleId" ORDER BY kafka_offset DESC, kafka_partition DESC) = 1`,
  );
  const inputRows = await countOf(connection, 'SELECT count(*) FROM sentiment_input');
  context.progress(0.5, `sentiment ${request.params.window}`);
  const symbolFilter =
    request.symbols.length > 0 ? `WHERE symbol IN (${request.symbols.map(literal).join(', ')})` : '';
  const table = `sentiment_${request.params.window}`;
  await connection.run(`
    CREATE OR REPLACE TEMP TABLE ${table} AS
    WITH mentions AS (
      SELECT unnest(list_distinct(CAST(json(symbols) AS VARCHAR[]))) AS symbol, sentiment, confidence, ts FROM sentiment_input
    ), windows AS (
      SELECT symbol,
             ts - ts % ${length} AS "windowStart",
             count(*) AS articles,
             ${exactMean('sentiment')} AS "meanSentiment",
             min(sentiment) AS "minSentiment",
             max(sentiment) AS "maxSentiment",
             ${exactMean('confidence')} AS "meanConfidence"
        FROM mentions
        ${symbolFilter}
       GROUP BY symbol, ts - ts % ${length}
    )
    SELECT w.symbol, w."windowStart", w."windowStart" + ${length} AS "windowEnd", w.articles,
           w."meanSentiment", w."minSentiment", w."maxSentiment", w."meanConfidence",
           p."meanSentiment" AS "previousMeanSentiment",
           w."meanSentiment" - p."meanSentiment" AS "meanSentimentChange",
           w."windowStart" AS ts
      FROM windows w LEFT JOIN windows p ON p.symbol = w.symbol AND p."windowStart" = w."windowStart" - ${length}
     WHERE w."windowStart" >= ${request.fromNs}`);
  const rows = await countOf(connection, `SELECT count(*) FROM ${table}`);
  return {
    outputs: [{ dataset: `gold_sentiment_${request.params.window}`, table, symbolColumn: 'symbol', orderBy: ['ts', 'symbol'] }],
    inputRows,
    summary: { articles: inputRows, windows: rows, window: request.params.window },
  };
}
