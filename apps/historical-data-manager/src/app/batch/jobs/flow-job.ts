import type { BatchJobContext, BatchJobOutput } from '../batch-job';
import { AGGREGATE_WINDOW_NS } from '../batch-request';
import { countOf, type InputColumn, parquetRelation, rangeFilter } from '../batch-sql';

const FLOW_COLUMNS: InputColumn[] = [
  { name: 'underlying', type: 'VARCHAR' },
  { name: 'kind', type: 'VARCHAR' },
  { name: 'side', type: 'VARCHAR' },
  { name: 'right', type: 'VARCHAR' },
  { name: 'premium', type: 'DOUBLE' },
  { name: 'size', type: 'BIGINT' },
  { name: 'ts', type: 'BIGINT' },
];

const KINDS = { sweep: 'sweeps', block: 'blocks', split: 'splits', unusual_volume: 'unusualVolume' } as const;
const SIDES = ['buy', 'sell', 'mid', 'unknown'] as const;

/** A premium sum, exact to the micro-dollar whatever order the rows are added in. */
function premiumSum(filter: string | null): string {
  const sum = `sum(CAST(premium AS DECIMAL(38, 6)))${filter === null ? '' : ` FILTER (WHERE ${filter})`}`;
  return `CAST(coalesce(${sum}, 0) AS DOUBLE)`;
}

/**
 * `flow`: options_flow aggregated by underlying and window (params.window): flows, contracts and
 * premium, per kind (sweep, block, split, unusual volume), per aggressor side (buy, sell, mid,
 * unknown) and per right (call and put premium, put/call premium ratio). Windows [start, start +
 * length) on event time; `ts` is the window start.
 */
export async function runFlowJob(context: BatchJobContext): Promise<BatchJobOutput> {
  const { request, connection } = context;
  if (request.job !== 'flow') throw new Error(`not a flow request: ${request.job}`);
  const length = AGGREGATE_WINDOW_NS[request.params.window];
  // the files' symbols are the option contracts, not the underlyings: no pruning by symbol there
  const paths = await context.input({ dataset: request.params.flowDataset, fromNs: request.fromNs, toNs: request.toNs, symbols: [] });
  await connection.run(
    `CREATE OR REPLACE TEMP TABLE flow_input AS
       ${parquetRelation(paths, FLOW_COLUMNS, rangeFilter(request.fromNs, request.toNs, request.symbols, 'underlying'))}`,
  );
  const inputRows = await countOf(connection, 'SELECT count(*) FROM flow_input');
  context.progress(0.5, `flow ${request.params.window}`);
  const kindColumns = Object.entries(KINDS).map(
    ([kind, name]) =>
      `count(*) FILTER (WHERE kind = '${kind}') AS "${name}", ${premiumSum(`kind = '${kind}'`)} AS "${name}Premium"`,
  );
  const sideColumns = SIDES.map(
    (side) => `count(*) FILTER (WHERE side = '${side}') AS "${side}Flows", ${premiumSum(`side = '${side}'`)} AS "${side}Premium"`,
  );
  const table = `flow_${request.params.window}`;
  await connection.run(`
    CREATE OR REPLACE TEMP TABLE ${table} AS
    SELECT underlying,
           ts - ts % ${length} AS "windowStart",
           ts - ts % ${length} + ${length} AS "windowEnd",
           count(*) AS flows,
           CAST(sum(size) AS BIGINT) AS contracts,
           ${premiumSum(null)} AS premium,
           ${kindColumns.join(',\n           ')},
           ${sideColumns.join(',\n           ')},
           ${premiumSum(`"right" = 'call'`)} AS "callPremium",
           ${premiumSum(`"right" = 'put'`)} AS "putPremium",
           CASE WHEN ${premiumSum(`"right" = 'call'`)} > 0
                THEN ${premiumSum(`"right" = 'put'`)} / ${premiumSum(`"right" = 'call'`)} END AS "putCallPremiumRatio",
           ts - ts % ${length} AS ts
      FROM flow_input
     GROUP BY underlying, ts - ts % ${length}`);
  const rows = await countOf(connection, `SELECT count(*) FROM ${table}`);
  return {
    outputs: [
      { dataset: `gold_options_flow_${request.params.window}`, table, symbolColumn: 'underlying', orderBy: ['ts', 'underlying'] },
    ],
    inputRows,
    summary: { flows: inputRows, windows: rows, window: request.params.window },
  };
}
