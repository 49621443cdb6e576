/** Helpers for the batch layer's tests: DuckDB with the job macros, Parquet inputs on local disk, a job context. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { BatchJobContext, InputRange } from '../batch-job';
import type { BatchJobRequest } from '../batch-request';
import { defineExactDecimalMacros, type InputColumnType, literal, quote } from '../batch-sql';

export interface TestDuck {
  connection: DuckDBConnection;
  dir: string;
  close(): void;
}

/** An in-memory DuckDB with the exact-decimal macros and a temporary folder for files. */
export async function openTestDuck(): Promise<TestDuck> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const connection = await instance.connect();
  await connection.run(`SET TimeZone = 'UTC'`);
  await defineExactDecimalMacros(connection);
  const dir = mkdtempSync(join(tmpdir(), 'tributary-batch-test-'));
  return {
    connection,
    dir,
    close: () => {
      connection.closeSync();
      instance.closeSync();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type TestColumns = Record<string, InputColumnType>;

/** Writes `rows` as a Parquet file at `path` with the given column types (values appended exactly, no SQL text round trip). */
export async function writeParquet(
  connection: DuckDBConnection,
  path: string,
  columns: TestColumns,
  rows: readonly Record<string, unknown>[],
): Promise<string> {
  const table = `t_${Math.random().toString(36).slice(2)}`;
  const names = Object.keys(columns);
  await connection.run(`CREATE TEMP TABLE ${table} (${names.map((n) => `${quote(n)} ${columns[n]}`).join(', ')})`);
  const appender = await connection.createAppender(table);
  for (const row of rows) {
    for (const name of names) {
      const v = row[name];
      if (v === undefined || v === null) appender.appendNull();
      else if (columns[name] === 'DOUBLE') appender.appendDouble(Number(v));
      else if (columns[name] === 'BIGINT') appender.appendBigInt(BigInt(v as bigint));
      else if (columns[name] === 'INTEGER') appender.appendInteger(Number(v));
      else if (columns[name] === 'BOOLEAN') appender.appendBoolean(Boolean(v));
      else appender.appendVarchar(String(v));
    }
    appender.endRow();
  }
  appender.closeSync();
  await connection.run(`COPY ${table} TO ${literal(path)} (FORMAT parquet, COMPRESSION zstd)`);
  await connection.run(`DROP TABLE ${table}`);
  return path;
}

export interface TestContext extends BatchJobContext {
  /** The input ranges the job asked for. */
  readonly asked: InputRange[];
}

/** A job context whose inputs are the given local files per dataset (every file, whatever the range). */
export function testContext(
  connection: DuckDBConnection,
  request: BatchJobRequest,
  files: Readonly<Record<string, string[]>>,
): TestContext {
  const asked: InputRange[] = [];
  return {
    connection,
    request,
    asked,
    input: async (range) => {
      asked.push(range);
      return files[range.dataset] ?? [];
    },
    progress: () => undefined,
  };
}

/** Rows of a table in a stable order, BIGINTs as bigint. */
export async function tableRows(connection: DuckDBConnection, table: string, orderBy: string): Promise<Record<string, unknown>[]> {
  return (await connection.runAndReadAll(`SELECT * FROM ${table} ORDER BY ${orderBy}`)).getRowObjectsJS() as Record<string, unknown>[];
}

export const ns = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;
