import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { CATALOG } from '@tributary/contracts';
import { createS3Client } from '@tributary/observability';
import { eventually, readInfraEnv, TcpProxy, TEST_API_KEY } from '@tributary/testing';
import type { DataSource } from 'typeorm';
import { metricValue, type RunningApp, startTestApp, testConfig } from '../../testing/archive-app';
import { catalogDataSource, migrateCatalog } from '../archive/catalog-database';
import {
  archiveColumnsOf,
  type ArchiveRecord,
  ParquetPartitionWriter,
} from '../archive/parquet-partition-writer';
import { type ArchivedDataset, TopicArchiver } from '../archive/topic-archiver';
import { HistoryQueryService } from './history-query.service';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const catalogSchema = `hdm_budget_it_${run}`;
const bucket = 'tributary-test';
const dataset: ArchivedDataset = {
  name: `market_trades_budget_${run}`,
  topic: 'market.trades',
  schemaVersion: CATALOG['market.trades'].version,
  columns: archiveColumnsOf(CATALOG['market.trades'].schema),
  retentionDays: null,
};
const HOUR = 3_600_000_000_000n;
const DAY1 = BigInt(Date.parse('2026-02-01T00:00:00Z')) * 1_000_000n;
const HOURS = 8;
const PARTITIONS = 2;
const ROWS_PER_FILE = 50;
const iso = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();
/** A second caller, besides the test key's `integration-test`. */
const OTHER_KEY = 'budget-other-caller-key-0001';

/** Every request of this file goes through here: the caller's key is the one place to change. */
function get(url: string, key = TEST_API_KEY): Promise<Response> {
  return fetch(url, { headers: { authorization: `Bearer ${key}` } });
}

describe('every expensive history request is bounded: bytes per query, queries at once, DuckDB memory', () => {
  const s3: S3Client = createS3Client(testConfig({}));
  const s3Proxy = new TcpProxy('127.0.0.1', Number(new URL(infraEnv['S3_ENDPOINT'] as string).port));
  let catalog: DataSource;
  let service: RunningApp;
  let dir: string;
  let fileBytes: number[];
  const rowsUrl = (params: Record<string, string>) =>
    `${service.baseUrl}/v1/datasets/${dataset.name}/rows?${new URLSearchParams(params).toString()}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hdm-budget-it-'));
    await migrateCatalog(infraEnv['DATABASE_URL'] as string, catalogSchema);
    catalog = await catalogDataSource(
      infraEnv['DATABASE_URL'] as string,
      catalogSchema,
      'hdm-budget-it',
    ).initialize();
    const writer = await ParquetPartitionWriter.open();
    const archiver = new TopicArchiver(writer, s3, bucket, catalog, catalogSchema);
    try {
      for (let h = 0; h < HOURS; h++) {
        for (let p = 0; p < PARTITIONS; p++) {
          const records: ArchiveRecord[] = [];
          for (let i = 0; i < ROWS_PER_FILE; i++) {
            const ts = DAY1 + BigInt(h) * HOUR + BigInt(i) * 60_000_000_000n + BigInt(p);
            records.push({
              offset: BigInt(h * 1000 + i),
              key: 'SPY',
              eventTimeNs: ts,
              value: {
                symbol: 'SPY',
                price: 500 + i,
                size: 1,
                exchange: 'Q',
                tradeId: `B${h}-${p}-${i}`,
                conditions: [],
                ts: ts.toString(),
              },
            });
          }
          await archiver.archive(dataset, p, records);
        }
      }
    } finally {
      writer.close();
    }
    fileBytes = (
      (await catalog.query(`SELECT byte_size FROM "${catalogSchema}".files`)) as { byte_size: string }[]
    ).map((r) => Number(r.byte_size));
    const s3Port = await s3Proxy.open();
    service = await startTestApp(
      testConfig({
        AUTH_API_KEYS: `integration-test:${TEST_API_KEY}:admin|read:>,other-caller:${OTHER_KEY}:read:>`,
        ARCHIVE_CATALOG_SCHEMA: catalogSchema,
        S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
        HISTORY_CACHE_DIR: join(dir, 'cache'),
        HISTORY_CACHE_MAX_BYTES: String(fileBytes.reduce((a, b) => a + b, 0) * 2),
        // room for the files of two hours, not for the eight
        HISTORY_QUERY_MAX_BYTES: String(Math.max(...fileBytes) * 2 * PARTITIONS),
        HISTORY_QUERY_MAX_CONCURRENT_PER_CALLER: '1',
        DUCKDB_MEMORY_LIMIT: String(160 * 1024 * 1024),
        DUCKDB_MAX_TEMP_BYTES: String(512 * 1024 * 1024),
      }),
    );
  });

  afterAll(async () => {
    s3Proxy.restore();
    await service?.close();
    await s3Proxy.cut().catch(() => undefined);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${dataset.name}/` }));
    const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
    if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    await catalog?.query(`DROP SCHEMA IF EXISTS "${catalogSchema}" CASCADE`);
    await catalog?.destroy();
    s3.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const misses = () => metricValue(service.baseUrl, 'tributary_history_cache_misses_total');

  it('a query over more archive bytes than one query may read is refused with 429 naming the budget, before anything is downloaded', async () => {
    const before = await misses();
    const response = await get(rowsUrl({ from: iso(DAY1), to: iso(DAY1 + BigInt(HOURS) * HOUR) }));
    expect(response.status).toBe(429);
    const body = (await response.json()) as Record<string, unknown>;
    const total = fileBytes.reduce((a, b) => a + b, 0);
    expect(body).toMatchObject({
      statusCode: 429,
      budget: 'HISTORY_QUERY_MAX_BYTES',
      limit: Math.max(...fileBytes) * 2 * PARTITIONS,
    });
    expect(body['message']).toContain(`would read ${total} bytes`);
    expect(body['message']).toMatch(/shorter from\/to range or symbols/);
    expect(response.headers.get('retry-after')).toBeNull(); // asking again unchanged cannot succeed
    expect(await misses()).toBe(before);
    expect(await metricValue(service.baseUrl, 'tributary_history_queries_refused_total')).toBeGreaterThan(0);
  });

  it('with a limit the files are read in event-time order and the download stops once the limit is out', async () => {
    const before = await misses();
    const response = await get(
      rowsUrl({
        from: iso(DAY1),
        to: iso(DAY1 + BigInt(HOURS) * HOUR),
        limit: '3',
        columns: 'ts,kafka_partition',
      }),
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([
      { ts: DAY1.toString(), kafka_partition: 0 },
      { ts: (DAY1 + 1n).toString(), kafka_partition: 1 },
      { ts: (DAY1 + 60_000_000_000n).toString(), kafka_partition: 0 },
    ]);
    // the first hour's files only (one per partition), of the sixteen the range covers
    expect(await misses()).toBe(before + PARTITIONS);

    // a limit reaching past the budget's files is refused like any query over the budget
    const beyond = await get(
      rowsUrl({
        from: iso(DAY1),
        to: iso(DAY1 + BigInt(HOURS) * HOUR),
        limit: String(ROWS_PER_FILE * PARTITIONS * 3),
      }),
    );
    expect(beyond.status).toBe(429);
    expect(await beyond.json()).toMatchObject({ budget: 'HISTORY_QUERY_MAX_BYTES' });
  });

  it('DuckDB of the query API runs with the configured memory limit, a spill folder inside the cache folder, and its bound', async () => {
    const duck = await service.app.get(HistoryQueryService).duckdb();
    const connection = await duck.connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT current_setting('memory_limit'), current_setting('max_temp_directory_size'), current_setting('temp_directory'), current_setting('threads')`,
      );
      expect(reader.getRows()[0]).toEqual(['160.0 MiB', '512.0 MiB', join(dir, 'cache', 'duckdb-spill'), 2n]);
    } finally {
      connection.closeSync();
    }
  });

  it('one caller runs at most its share of queries at once: the next gets 429 with Retry-After, another caller is still served', async () => {
    const history = service.app.get(HistoryQueryService);
    s3Proxy.silence(); // the next fetch from S3 hangs, so the first query stays running
    const held = get(rowsUrl({ from: iso(DAY1 + 5n * HOUR), to: iso(DAY1 + 6n * HOUR) }));
    try {
      await eventually(() => history.runningQueries === 1, 20_000, 'the first query running');
      const second = await get(rowsUrl({ from: iso(DAY1), to: iso(DAY1 + HOUR) }));
      expect(second.status).toBe(429);
      expect(second.headers.get('retry-after')).toBe('1');
      expect(await second.json()).toMatchObject({
        budget: 'HISTORY_QUERY_MAX_CONCURRENT_PER_CALLER',
        limit: 1,
        retryAfterSeconds: 1,
      });

      // another caller, over files already cached: answered while the first query waits
      const other = await get(rowsUrl({ from: iso(DAY1), to: iso(DAY1 + HOUR), columns: 'ts' }), OTHER_KEY);
      expect(other.status).toBe(200);
      expect(await other.json()).toHaveLength(ROWS_PER_FILE * PARTITIONS);
    } finally {
      s3Proxy.restore();
    }
    const first = await held;
    expect([200, 503]).toContain(first.status); // S3 came back: served, or a retry-later if the SDK gave up meanwhile
    await first.arrayBuffer();
    await eventually(() => history.runningQueries === 0, 30_000, 'no query running');
    const again = await get(rowsUrl({ from: iso(DAY1), to: iso(DAY1 + HOUR), columns: 'ts' }));
    expect(again.status).toBe(200);
    await again.arrayBuffer();
  });
});
