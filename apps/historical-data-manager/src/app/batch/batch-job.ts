import type { DuckDBConnection } from '@duckdb/node-api';
import type { BatchJobName, BatchJobRequest } from './batch-request';

/** What a job asks for: the committed files of `dataset` that may hold rows of `[fromNs, toNs)`. */
export interface InputRange {
  dataset: string;
  fromNs: bigint;
  toNs: bigint;
  /** Prune by the files' symbols (only for datasets whose `symbol` column is what the run filters on). */
  symbols: readonly string[];
}

/** What a job runs with: a DuckDB connection with the exact-decimal macros, its inputs as local files, progress. */
export interface BatchJobContext {
  readonly connection: DuckDBConnection;
  readonly request: BatchJobRequest;
  /** Local paths of the input files (fetched from S3 through the cache), pinned until the run ends. */
  input(range: InputRange): Promise<string[]>;
  /** Moves the run's progress within the compute stage (0..1). */
  progress(fraction: number, stage: string): void;
}

/**
 * One gold dataset a run produced: a DuckDB table with a `ts` column (epoch ns of the row's window
 * start: what the layout partitions by and what a rerun of a range replaces) and the column
 * queries filter symbols on.
 */
export interface GoldOutput {
  dataset: string;
  table: string;
  symbolColumn: 'symbol' | 'underlying';
  /** Row order inside each file. */
  orderBy: string[];
}

export interface BatchJobOutput {
  outputs: GoldOutput[];
  /** Rows of input read (after the range and symbol filters). */
  inputRows: number;
  /** What the job reports about itself (the reconciliation report, feature periods...). */
  summary: Record<string, unknown>;
}

export type BatchJobRunner = (context: BatchJobContext) => Promise<BatchJobOutput>;

export type BatchJobRunners = Readonly<Record<BatchJobName, BatchJobRunner>>;
