import { join } from 'node:path';
import type { CatalogFile } from './batch-catalog';
import { writeGoldFiles } from './gold-dataset-writer';
import { ns, openTestDuck, type TestColumns, type TestDuck, writeParquet } from './testing/batch-test-kit';

const M = 60_000_000_000n;
const H10 = ns('2026-03-02T10:00:00Z');
const COLUMNS: TestColumns = { symbol: 'VARCHAR', value: 'BIGINT', ts: 'BIGINT' };

describe('gold dataset files', () => {
  let duck: TestDuck;
  beforeAll(async () => {
    duck = await openTestDuck();
  });
  afterAll(() => duck.close());

  it('writes one file per hour partition in the archive layout, keyed by the run id, with statistics for the catalog', async () => {
    await duck.connection.run(
      `CREATE OR REPLACE TEMP TABLE out1 AS SELECT * FROM (VALUES ('AAPL', 1::BIGINT, ${H10}::BIGINT), ('MSFT', 2, ${H10 + 61n * M}), ('AAPL', 3, ${H10 + 5n * M})) v(symbol, value, ts)`,
    );
    const files = await writeGoldFiles(
      duck.connection,
      { dataset: 'gold_test', table: 'out1', symbolColumn: 'symbol', orderBy: ['ts', 'symbol'] },
      { fromNs: H10, toNs: H10 + 120n * M, symbols: [] },
      [],
      duck.dir,
      'run-1',
    );
    expect(files.map((f) => [f.key, f.rows, f.symbols, f.minEventTimeNs, f.maxEventTimeNs])).toEqual([
      ['gold_test/date=2026-03-02/hour=10/run-1.parquet', 2, ['AAPL'], H10, H10 + 5n * M],
      ['gold_test/date=2026-03-02/hour=11/run-1.parquet', 1, ['MSFT'], H10 + 61n * M, H10 + 61n * M],
    ]);
    expect(files[0]?.columnStats['value']).toEqual({ min: '1', max: '3', nulls: 0 });
    const read = (await duck.connection.runAndReadAll(`SELECT symbol, value, strftime(event_time, '%Y-%m-%dT%H:%M:%S') AS event_time FROM '${files[0]?.path}'`)).getRowObjectsJS();
    expect(read.map((r) => [r['symbol'], r['value'], String(r['event_time'])])).toEqual([
      ['AAPL', 1n, '2026-03-02T10:00:00'],
      ['AAPL', 3n, '2026-03-02T10:05:00'],
    ]);
  });

  it('keeps the rows of a replaced file outside the run range and symbols', async () => {
    const old = await writeParquet(duck.connection, join(duck.dir, 'old.parquet'), COLUMNS, [
      { symbol: 'AAPL', value: 1n, ts: H10 },
      { symbol: 'AAPL', value: 2n, ts: H10 + 40n * M },
      { symbol: 'MSFT', value: 3n, ts: H10 + 40n * M },
    ]);
    const current: CatalogFile = {
      key: 'gold_test/date=2026-03-02/hour=10/run-0.parquet',
      bytes: 0,
      rows: 3,
      minEventTimeNs: H10,
      maxEventTimeNs: H10 + 40n * M,
      symbols: ['AAPL', 'MSFT'],
      partitionDate: '2026-03-02',
      partitionHour: 10,
    };
    await duck.connection.run(`CREATE OR REPLACE TEMP TABLE out2 AS SELECT 'AAPL' AS symbol, 20::BIGINT AS value, ${H10 + 40n * M}::BIGINT AS ts`);
    const files = await writeGoldFiles(
      duck.connection,
      { dataset: 'gold_test', table: 'out2', symbolColumn: 'symbol', orderBy: ['ts', 'symbol'] },
      // the rerun covers 10:30-11:00 for AAPL only
      { fromNs: H10 + 30n * M, toNs: H10 + 60n * M, symbols: ['AAPL'] },
      [{ file: current, path: old }],
      duck.dir,
      'run-2',
    );
    expect(files).toHaveLength(1);
    const read = (await duck.connection.runAndReadAll(`SELECT symbol, value FROM '${files[0]?.path}' ORDER BY ts, symbol`)).getRows();
    // AAPL before 10:30 and MSFT are kept; AAPL 10:40 is the rerun's value
    expect(read).toEqual([
      ['AAPL', 1n],
      ['AAPL', 20n],
      ['MSFT', 3n],
    ]);
  });
});
