import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { hourPartitionOf, partitionPrefix } from '../archive/archive-layout';
import type { GoldOutput } from './batch-job';
import type { CatalogFile, GoldFile } from './batch-catalog';
import { literal, quote, rowsOf } from './batch-sql';

const HOUR_NS = 3_600_000_000_000n;

/** The rows a run replaces in a gold dataset: its range and, when it names some, its symbols. */
export interface ReplacedScope {
  fromNs: bigint;
  toNs: bigint;
  symbols: readonly string[];
}

/** A gold file on local disk, to upload and then commit. */
export interface WrittenGoldFile extends GoldFile {
  path: string;
}

/** A current file of the dataset that the run replaces, on local disk (its rows outside the scope are kept). */
export interface ReplacedFile {
  file: CatalogFile;
  path: string;
}

function scopeSql(scope: ReplacedScope, symbolColumn: string): string {
  const parts = [`ts >= ${scope.fromNs}`, `ts < ${scope.toNs}`];
  if (scope.symbols.length > 0) parts.push(`${quote(symbolColumn)} IN (${scope.symbols.map(literal).join(', ')})`);
  return `(${parts.join(' AND ')})`;
}

/**
 * Writes a run's output table as the new files of a gold dataset, in the archive's layout
 * (`<dataset>/date=YYYY-MM-DD/hour=HH/<run id>.parquet`, one file per hour partition of `ts`, ZSTD,
 * with the archive's `event_time` column next to `ts`). A partition that also holds rows of the
 * current files outside the run's scope (another range, other symbols) keeps them: its new file is
 * the run's rows plus those, so replacing the current files loses nothing outside the scope.
 * Object keys carry the run id: a rerun never overwrites an object a reader may be fetching.
 */
export async function writeGoldFiles(
  connection: DuckDBConnection,
  output: GoldOutput,
  scope: ReplacedScope,
  replaced: readonly ReplacedFile[],
  dir: string,
  runId: string,
  onPartition?: (done: number, total: number) => void,
): Promise<WrittenGoldFile[]> {
  const hours = new Set<bigint>();
  for (const row of await rowsOf(connection, `SELECT DISTINCT ts // ${HOUR_NS} AS h FROM ${output.table}`)) {
    hours.add(BigInt(row['h'] as bigint));
  }
  const replacedByHour = new Map<bigint, ReplacedFile[]>();
  for (const r of replaced) {
    const hour = BigInt(Date.parse(`${r.file.partitionDate}T${String(r.file.partitionHour).padStart(2, '0')}:00:00Z`)) * 1_000_000n / HOUR_NS;
    hours.add(hour);
    replacedByHour.set(hour, [...(replacedByHour.get(hour) ?? []), r]);
  }
  const ordered = [...hours].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const files: WrittenGoldFile[] = [];
  for (const [index, hour] of ordered.entries()) {
    const partition = hourPartitionOf(hour * HOUR_NS);
    const parts = [
      `SELECT *, CAST(make_timestamp(ts // 1000) AS TIMESTAMPTZ) AS event_time FROM ${output.table}
        WHERE ts >= ${hour * HOUR_NS} AND ts < ${(hour + 1n) * HOUR_NS}`,
    ];
    const kept = replacedByHour.get(hour) ?? [];
    if (kept.length > 0) {
      parts.push(
        `SELECT * FROM read_parquet([${kept.map((k) => literal(k.path)).join(', ')}], union_by_name = true)
          WHERE NOT ${scopeSql(scope, output.symbolColumn)}`,
      );
    }
    const path = join(dir, `${output.dataset}-${partition.date}-${partition.hour}.parquet`);
    await connection.run(`CREATE OR REPLACE TEMP TABLE gold_partition AS ${parts.join(' UNION ALL BY NAME ')}`);
    const [summary] = await rowsOf(
      connection,
      `SELECT count(*) AS n, min(ts) AS min_ts, max(ts) AS max_ts,
              coalesce(list_sort(list_distinct(list(${quote(output.symbolColumn)}))), []) AS symbols
         FROM gold_partition`,
    );
    const rows = Number(summary?.['n'] ?? 0);
    if (rows > 0) {
      await connection.run(
        `COPY (SELECT * FROM gold_partition ORDER BY ${output.orderBy.map(quote).join(', ')})
           TO ${literal(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
      );
      files.push({
        dataset: output.dataset,
        key: `${partitionPrefix(output.dataset, partition)}${runId}.parquet`,
        path,
        partitionDate: partition.date,
        partitionHour: partition.hour,
        rows,
        bytes: (await stat(path)).size,
        minEventTimeNs: BigInt(summary?.['min_ts'] as bigint),
        maxEventTimeNs: BigInt(summary?.['max_ts'] as bigint),
        symbols: (summary?.['symbols'] as string[]).filter((s) => s !== null),
        columnStats: await columnStats(connection, path),
      });
    }
    await connection.run('DROP TABLE IF EXISTS gold_partition');
    onPartition?.(index + 1, ordered.length);
  }
  return files;
}

/** Per column of a written file: min, max (as text) and null count, from its Parquet statistics. */
async function columnStats(connection: DuckDBConnection, path: string): Promise<GoldFile['columnStats']> {
  const stats = await rowsOf(
    connection,
    `SELECT path_in_schema AS name, min(stats_min_value) AS min, max(stats_max_value) AS max,
            CAST(sum(stats_null_count) AS BIGINT) AS nulls
       FROM parquet_metadata(${literal(path)}) GROUP BY path_in_schema`,
  );
  const result: GoldFile['columnStats'] = {};
  for (const s of stats) {
    result[String(s['name'])] = {
      min: s['min'] == null ? null : String(s['min']),
      max: s['max'] == null ? null : String(s['max']),
      nulls: Number(s['nulls'] ?? 0),
    };
  }
  return result;
}
