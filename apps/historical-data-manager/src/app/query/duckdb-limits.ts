import { mkdir } from 'node:fs/promises';
import { DuckDBInstance } from '@duckdb/node-api';

/** What one DuckDB instance of the service may use: memory, spill space on disk and threads. */
export interface DuckDbLimits {
  /** `memory_limit`: bytes of memory the instance's buffer manager may hold. */
  memoryLimitBytes: number;
  /** `max_temp_directory_size`: bytes the instance may spill to `tempDirectory`. */
  maxTempBytes: number;
  /** `temp_directory`: where larger-than-memory operators spill (created when missing). */
  tempDirectory: string;
  threads: number;
}

/** The instance options DuckDB reads at creation, sizes in KiB (DuckDB's own size syntax). */
export function duckDbOptions(limits: DuckDbLimits): Record<string, string> {
  return {
    threads: String(limits.threads),
    memory_limit: `${Math.max(1, Math.floor(limits.memoryLimitBytes / 1024))}KiB`,
    max_temp_directory_size: `${Math.max(0, Math.floor(limits.maxTempBytes / 1024))}KiB`,
    temp_directory: limits.tempDirectory,
  };
}

/** An in-memory DuckDB instance held to `limits`. */
export async function openDuckDb(limits: DuckDbLimits): Promise<DuckDBInstance> {
  await mkdir(limits.tempDirectory, { recursive: true });
  return DuckDBInstance.create(':memory:', duckDbOptions(limits));
}
