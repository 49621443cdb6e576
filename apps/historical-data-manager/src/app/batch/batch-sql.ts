/**
 * SQL building blocks of the batch jobs. The jobs are SQL over the Parquet layout (run here by
 * DuckDB in process); the functions used (window functions, FILTER, min_by/max_by by a row key,
 * 128-bit integers) exist in Spark SQL and Trino too, so the same statements port to a
 * distributed engine with a different `read_parquet` source.
 */
import type { DuckDBConnection } from '@duckdb/node-api';

export function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** SQL types of the input columns the jobs read. */
export type InputColumnType = 'VARCHAR' | 'DOUBLE' | 'BIGINT' | 'INTEGER' | 'BOOLEAN';

export interface InputColumn {
  name: string;
  type: InputColumnType;
}

/**
 * A relation over local Parquet files (column names as written, by name across files of several
 * schema versions), with `filter` applied; an empty relation of the same columns when there are no
 * files.
 */
export function parquetRelation(paths: readonly string[], columns: readonly InputColumn[], filter: string): string {
  const select = columns.map((c) => `CAST(${quote(c.name)} AS ${c.type}) AS ${quote(c.name)}`).join(', ');
  if (paths.length === 0) {
    return `SELECT ${columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quote(c.name)}`).join(', ')} WHERE false`;
  }
  return `SELECT ${select} FROM read_parquet([${paths.map(literal).join(', ')}], union_by_name = true) WHERE ${filter}`;
}

/** `ts >= from AND ts < to [AND <symbol column> IN (...)]`. */
export function rangeFilter(fromNs: bigint, toNs: bigint, symbols: readonly string[] = [], symbolColumn = 'symbol'): string {
  const parts = [`ts >= ${fromNs}`, `ts < ${toNs}`];
  if (symbols.length > 0) parts.push(`${quote(symbolColumn)} IN (${symbols.map(literal).join(', ')})`);
  return parts.join(' AND ');
}

/**
 * Exact decimal arithmetic in SQL, as the speed layer does it in TypeScript: a price (DOUBLE) is
 * the shortest decimal that prints it, split into integer `units` and a decimal `scale`
 * (214.12 -> 21412, 2); sums of price x size are exact 128-bit integers; a quotient is taken to 24
 * decimals beyond the sum's own scale (truncated) and parsed to the nearest double, once.
 *
 * - `tb_pow10(n)`: 10^n as HUGEINT;
 * - `tb_price_scale(p)`, `tb_price_units(p)`: the decimal of a positive double;
 * - `tb_decimal_text(units, scale)`: a non-negative exact decimal as text;
 * - `tb_exact_quotient(units, scale, divisor)`: (units / 10^scale) / divisor as the nearest DOUBLE
 *   of its 24-extra-decimal truncation (bit for bit what the gateway's NotionalSum.divideBy gives).
 */
export async function defineExactDecimalMacros(connection: DuckDBConnection): Promise<void> {
  const mantissa = `split_part(lower(CAST(p AS VARCHAR)), 'e', 1)`;
  const exponent = `CASE WHEN contains(lower(CAST(p AS VARCHAR)), 'e') THEN CAST(split_part(lower(CAST(p AS VARCHAR)), 'e', 2) AS INTEGER) ELSE 0 END`;
  const fraction = `rtrim(split_part(${mantissa}, '.', 2), '0')`;
  const rawScale = `(length(${fraction}) - (${exponent}))`;
  const statements = [
    `CREATE OR REPLACE TEMP MACRO tb_pow10(n) AS CAST('1' || repeat('0', CAST(n AS BIGINT)) AS HUGEINT)`,
    `CREATE OR REPLACE TEMP MACRO tb_price_scale(p) AS greatest(${rawScale}, 0)`,
    `CREATE OR REPLACE TEMP MACRO tb_price_units(p) AS
       CAST(split_part(${mantissa}, '.', 1) || ${fraction} AS HUGEINT) * tb_pow10(greatest(-${rawScale}, 0))`,
    // lpad cuts text longer than its width: pad to at least the text's own length
    `CREATE OR REPLACE TEMP MACRO tb_pad(s, n) AS lpad(s, CAST(greatest(length(s), n) AS INTEGER), '0')`,
    `CREATE OR REPLACE TEMP MACRO tb_decimal_text(units, scale) AS
       CASE WHEN scale = 0 THEN CAST(units AS VARCHAR)
            ELSE left(tb_pad(CAST(units AS VARCHAR), scale + 1), CAST(length(tb_pad(CAST(units AS VARCHAR), scale + 1)) - scale AS INTEGER))
                 || '.' || right(tb_pad(CAST(units AS VARCHAR), scale + 1), CAST(scale AS INTEGER)) END`,
    `CREATE OR REPLACE TEMP MACRO tb_exact_quotient(units, scale, divisor) AS
       CAST(tb_decimal_text(units // divisor, scale)
            || CASE WHEN scale = 0 THEN '.' ELSE '' END
            || tb_pad(CAST(((units % divisor) * tb_pow10(24)) // divisor AS VARCHAR), 24) AS DOUBLE)`,
  ];
  for (const sql of statements) await connection.run(sql);
}

/** Rows of a query as plain objects (BIGINT/HUGEINT as bigint). */
export async function rowsOf(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

/** The single number a query returns (a count). */
export async function countOf(connection: DuckDBConnection, sql: string): Promise<number> {
  const [row] = (await connection.runAndReadAll(sql)).getRows();
  return Number(row?.[0] ?? 0);
}
