import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { CATALOG } from '@tributary/contracts';
import { createS3Client } from '@tributary/observability';
import { readInfraEnv, workspaceRoot } from '@tributary/testing';
import type { DataSource } from 'typeorm';
import { datasetOfTopic } from './archive-layout';
import { catalogDataSource, migrateCatalog } from './catalog-database';
import { archiveColumnsOf, type ArchiveRecord, ParquetPartitionWriter } from './parquet-partition-writer';
import { type ArchivedDataset, TopicArchiver } from './topic-archiver';
import { committedObjectKeys, downloadObject } from '../../testing/archived-objects';

const env = readInfraEnv();
const databaseUrl = env['DATABASE_URL'] as string;
const bucket = 'tributary-test';
const run = `${process.pid}_${Date.now()}`;
const schema = `hdm_archive_test_${run}`;
const brokenSchema = `hdm_archive_broken_${run}`;
const topic = 'market.trades';
// a dataset name of this run only, so the S3 prefix and catalog rows are ours
const dataset: ArchivedDataset = {
  name: `${datasetOfTopic(topic)}_test_${run}`,
  topic,
  schemaVersion: CATALOG[topic].version,
  columns: archiveColumnsOf(CATALOG[topic].schema),
  retentionDays: null,
};

/** Trades around an hour boundary, with nanosecond event times and offsets above 2^60. */
function trades(firstOffset: bigint, count: number): ArchiveRecord[] {
  const t0 = 1_767_229_199_999_000_123n; // 2026-01-01T00:59:59.999000123Z: the batch spans hours 00 and 01
  return Array.from({ length: count }, (_, i) => {
    const symbol = ['AAPL', 'MSFT', 'SPY'][i % 3] as string;
    const ts = t0 + BigInt(i) * 100_007n;
    return {
      offset: firstOffset + BigInt(i),
      key: symbol,
      eventTimeNs: ts,
      value: {
        symbol,
        price: 100 + i / 100,
        size: 1 + (i % 500),
        exchange: 'Q',
        tradeId: `T${i}`,
        conditions: i % 2 ? ['@', 'I'] : [],
        ts: ts.toString(),
        ...(i % 4 ? { tape: 'C' } : {}),
      },
    };
  });
}

const expectedRows = (records: ArchiveRecord[]) =>
  records.map((r) =>
    [
      r.offset,
      r.key,
      r.value['symbol'],
      r.value['price'],
      r.value['size'],
      r.value['exchange'],
      r.value['tradeId'],
      JSON.stringify(r.value['conditions']),
      r.value['tape'] ?? null,
      r.eventTimeNs,
    ]
      .map((v) => (v === null || v === undefined ? 'null' : String(v)))
      .join('|'),
  );

describe('archive of a topic partition to Parquet on S3 with the catalog in PostgreSQL', () => {
  let s3: S3Client;
  let catalog: DataSource;
  let brokenCatalog: DataSource;
  let writer: ParquetPartitionWriter;
  let duck: DuckDBInstance;
  let dir: string;

  beforeAll(async () => {
    s3 = createS3Client({
      S3_ENDPOINT: env['S3_ENDPOINT'] as string,
      S3_REGION: env['S3_REGION'] as string,
      S3_ACCESS_KEY_ID: env['S3_ACCESS_KEY_ID'] as string,
      S3_SECRET_ACCESS_KEY: env['S3_SECRET_ACCESS_KEY'] as string,
      S3_FORCE_PATH_STYLE: true,
    });
    await migrateCatalog(databaseUrl, schema);
    await migrateCatalog(databaseUrl, brokenSchema);
    catalog = await catalogDataSource(databaseUrl, schema, 'hdm-archive-test').initialize();
    brokenCatalog = await catalogDataSource(databaseUrl, brokenSchema, 'hdm-archive-test').initialize();
    // a catalog whose commit fails after the upload, as a crash between upload and catalog commit would
    await brokenCatalog.query(`ALTER TABLE "${brokenSchema}".files RENAME TO files_gone`);
    writer = await ParquetPartitionWriter.open();
    duck = await DuckDBInstance.create(':memory:');
    dir = mkdtempSync(join(tmpdir(), 'hdm-archive-test-'));
  });

  afterAll(async () => {
    writer?.close();
    duck?.closeSync();
    if (dir) rmSync(dir, { recursive: true, force: true });
    const keys = await objectKeys();
    if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    await catalog?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await catalog?.query(`DROP SCHEMA IF EXISTS "${brokenSchema}" CASCADE`);
    await catalog?.destroy();
    await brokenCatalog?.destroy();
    s3?.destroy();
  });

  async function objectKeys(): Promise<string[]> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${dataset.name}/` }));
    return (listed.Contents ?? []).map((o) => o.Key as string).sort();
  }

  function download(key: string): Promise<string> {
    return downloadObject(s3, bucket, key, dir);
  }

  function committedKeys(): Promise<string[]> {
    return committedObjectKeys(catalog, schema, dataset.name);
  }

  async function duckdbRows(paths: string[]): Promise<string[]> {
    const connection = await duck.connect();
    try {
      const list = paths.map((p) => `'${p}'`).join(', ');
      const reader = await connection.runAndReadAll(
        `SELECT kafka_offset, record_key, symbol, price, size, exchange, tradeId, conditions, tape, ts
           FROM read_parquet([${list}]) ORDER BY kafka_offset`,
      );
      return reader.getRowsJS().map((row) => row.map((v) => (v === null ? 'null' : String(v))).join('|'));
    } finally {
      connection.closeSync();
    }
  }

  /** hyparquet, a reader that shares no code with DuckDB, run as an ES module in a child process. */
  function hyparquetRows(paths: string[]): string[] {
    const script = `
      import { readFileSync } from 'node:fs';
      import { parquetReadObjects } from 'hyparquet';
      import { compressors } from 'hyparquet-compressors';
      const out = [];
      for (const path of JSON.parse(process.argv[1])) {
        const b = readFileSync(path);
        const rows = await parquetReadObjects({ file: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength), compressors,
          parsers: { timestampFromMicroseconds: (v) => v * 1000n, timestampFromNanoseconds: (v) => v, timestampFromMilliseconds: (v) => v * 1000000n } });
        for (const r of rows) out.push([r.kafka_offset, r.record_key, r.symbol, r.price, r.size, r.exchange, r.tradeId,
          r.conditions, r.tape, r.ts].map((v) => v === null || v === undefined ? 'null' : String(v)).join('|'));
      }
      process.stdout.write(JSON.stringify(out));`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(paths)], {
      cwd: workspaceRoot,
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(child.stderr);
    return (JSON.parse(child.stdout) as string[]).sort((a, b) => (BigInt(a.split('|')[0] as string) < BigInt(b.split('|')[0] as string) ? -1 : 1));
  }

  const archiver = () => new TopicArchiver(writer, s3, bucket, catalog, schema);

  it('an archived batch is read back by DuckDB and by hyparquet with identical rows, nanosecond times and offsets above 2^60 exact', async () => {
    const records = trades(2n ** 60n, 500);
    const result = await archiver().archive(dataset, 3, records);

    expect(result.committed).toHaveLength(2); // the batch spans two hours: one object per hour partition
    expect(result.committed[0]).toMatch(new RegExp(`^${dataset.name}/date=2026-01-01/hour=00/market\\.trades\\+3\\+`));
    expect(result.committed[1]).toMatch(new RegExp(`^${dataset.name}/date=2026-01-01/hour=01/`));
    const paths = await Promise.all(result.committed.map(download));
    expect(await duckdbRows(paths)).toEqual(expectedRows(records));
    expect(hyparquetRows(paths)).toEqual(expectedRows(records));
  });

  it('the files carry ZSTD, dictionary encoding, statistics and a UTC timestamp column next to the exact ns time', async () => {
    const [, key] = await committedKeys(); // hour 01: 490 of the 500 rows
    const path = await download(key as string);
    const connection = await duck.connect();
    try {
      const meta = (
        await connection.runAndReadAll(
          `SELECT path_in_schema, compression, stats_min_value IS NOT NULL AS stats, encodings::VARCHAR AS encodings
             FROM parquet_metadata('${path}')`,
        )
      ).getRowObjectsJS();
      expect(new Set(meta.map((m) => m['compression']))).toEqual(new Set(['ZSTD']));
      expect(meta.filter((m) => m['path_in_schema'] !== 'tape').every((m) => m['stats'])).toBe(true);
      expect(String(meta.find((m) => m['path_in_schema'] === 'symbol')?.['encodings'])).toMatch(/DICTIONARY/);
      const schemaRows = (
        await connection.runAndReadAll(`SELECT name, type, logical_type::VARCHAR AS logical FROM parquet_schema('${path}')`)
      ).getRowObjectsJS();
      expect(schemaRows.find((s) => s['name'] === 'ts')?.['type']).toBe('INT64');
      expect(String(schemaRows.find((s) => s['name'] === 'event_time')?.['logical'])).toMatch(/isAdjustedToUTC=1.*MICROS=MicroSeconds/);
    } finally {
      connection.closeSync();
    }
  });

  it('the catalog lists each committed file with its rows, offsets, event-time range and symbols', async () => {
    const rows: Record<string, unknown>[] = await catalog.query(
      `SELECT partition_hour, first_offset, last_offset, row_count, min_event_time_ns, symbols
         FROM "${schema}".files WHERE dataset = $1 ORDER BY first_offset`,
      [dataset.name],
    );
    expect(rows.map((r) => Number(r['row_count'])).reduce((a, b) => a + b, 0)).toBe(500);
    expect(rows[0]).toMatchObject({ partition_hour: 0, first_offset: (2n ** 60n).toString(), min_event_time_ns: '1767229199999000123' });
    expect(rows[0]?.['symbols']).toEqual(['AAPL', 'MSFT', 'SPY']);
    expect(BigInt(rows[1]?.['first_offset'] as string)).toBe(BigInt(rows[0]?.['last_offset'] as string) + 1n);
  });

  it('records redelivered after a crash between the catalog commit and the Kafka commit are skipped, not archived twice', async () => {
    const before = await committedKeys();
    const again = await archiver().archive(dataset, 3, trades(2n ** 60n, 500));
    expect(again).toEqual({ committed: [], skipped: 500 });
    expect(await committedKeys()).toEqual(before);
  });

  it('a flush that crashed before its catalog commit leaves an object the catalog does not list, and its retry rewrites that same object', async () => {
    const records = trades(2n ** 60n + 500n, 40).map((r) => ({ ...r, eventTimeNs: r.eventTimeNs + 3_600_000_000_000n }));
    const crashed = new TopicArchiver(writer, s3, bucket, brokenCatalog, brokenSchema);
    await expect(crashed.archive(dataset, 3, records)).rejects.toThrow();
    const committed = new Set(await committedKeys());
    const leftover = (await objectKeys()).filter((k) => !committed.has(k));
    expect(leftover).toHaveLength(2); // the batch spans hours 01 and 02

    const retried = await archiver().archive(dataset, 3, records);
    expect([...retried.committed].sort()).toEqual(leftover);
    expect(await objectKeys()).toEqual(await committedKeys());
    expect(await duckdbRows(await Promise.all(leftover.map(download)))).toEqual(expectedRows(records));
  });
});
