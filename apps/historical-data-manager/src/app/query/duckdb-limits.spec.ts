import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDuckDb } from './duckdb-limits';

/** DuckDB shows sizes as `192.0 MiB`; bytes of that text. */
function bytesOf(shown: string): number {
  const match = /^([\d.]+)\s*(bytes|KiB|MiB|GiB|TiB)$/.exec(shown.trim());
  if (!match) throw new Error(`not a DuckDB size: ${shown}`);
  const unit = { bytes: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[
    match[2] as string
  ] as number;
  return Number(match[1]) * unit;
}

describe('DuckDB resource limits', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'hdm-duckdb-limits-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('an instance runs with the configured memory limit, spill folder and bound, and threads', async () => {
    const spill = join(dir, 'cache', 'duckdb-spill');
    const duck = await openDuckDb({
      memoryLimitBytes: 192 * 1024 ** 2,
      maxTempBytes: 1024 ** 3,
      tempDirectory: spill,
      threads: 3,
    });
    try {
      const connection = await duck.connect();
      const reader = await connection.runAndReadAll(
        `SELECT current_setting('memory_limit'), current_setting('max_temp_directory_size'),
                current_setting('temp_directory'), current_setting('threads')`,
      );
      const [memory, maxTemp, temp, threads] = reader.getRows()[0] as [string, string, string, bigint];
      expect(bytesOf(memory)).toBe(192 * 1024 ** 2);
      expect(bytesOf(maxTemp)).toBe(1024 ** 3);
      expect(temp).toBe(spill);
      expect(Number(threads)).toBe(3);
      expect(statSync(spill).isDirectory()).toBe(true); // created up front, inside the service's own folder
      connection.closeSync();
    } finally {
      duck.closeSync();
    }
  });

  it('a query needing more memory than the limit and no room to spill fails instead of taking the pod down', async () => {
    const duck = await openDuckDb({
      memoryLimitBytes: 32 * 1024 ** 2,
      maxTempBytes: 0,
      tempDirectory: join(dir, 'spill'),
      threads: 1,
    });
    try {
      const connection = await duck.connect();
      await expect(
        connection.run(`SELECT count(DISTINCT (i, repeat('x', 64))) FROM range(5000000) t(i)`),
      ).rejects.toThrow(/memory|temp/i);
      connection.closeSync();
    } finally {
      duck.closeSync();
    }
  });
});
