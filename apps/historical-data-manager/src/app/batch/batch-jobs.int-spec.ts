import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import type { INestApplication } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { env, mergeSpecs, parseEnv, postgresEnv, s3Env, serviceEnv } from '@tributary/config';
import { CATALOG } from '@tributary/contracts';
import { createS3Client } from '@tributary/observability';
import { TEST_AUTH_API_KEYS, authorizedFetch, eventually, readInfraEnv } from '@tributary/testing';
import type { AddressInfo } from 'node:net';
import { Pool } from 'pg';
import { downloadObject } from '../../testing/archived-objects';
import { catalogDataSource } from '../archive/catalog-database';
import { archiveColumnsOf, type ArchiveRecord, ParquetPartitionWriter } from '../archive/parquet-partition-writer';
import { type ArchivedDataset, TopicArchiver } from '../archive/topic-archiver';
import { migrateBatchCatalog } from './batch-catalog';
import { batchEnv } from './batch-env';
import { BatchJobService, type BatchRunView } from './batch-job.service';
import { BatchModule } from './batch.module';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const schema = `hdm_batch_it_${run}`;
const bucket = 'tributary-test';
const T0 = BigInt(Date.parse('2026-03-02T14:00:00Z')) * 1_000_000n;
const M = 60_000_000_000n;

/** The archived trades: two hours, two partitions (SPY on 0, QQQ on 1), a trade every 7.3 s per symbol. */
const trades: { partition: number; record: ArchiveRecord }[] = [];
for (const [partition, symbol] of ['SPY', 'QQQ'].entries()) {
  for (let i = 0; i < 980; i++) {
    const ts = T0 + BigInt(i) * 7_300_000_017n + BigInt(partition);
    trades.push({
      partition,
      record: {
        offset: BigInt(i),
        key: symbol,
        eventTimeNs: ts,
        value: {
          symbol,
          price: Math.round((500 + Math.sin(i / 9) * 4 + partition * 10) * 100) / 100,
          size: 1 + ((i * 37) % 400),
          exchange: 'Q',
          tradeId: `${symbol}-${i}`,
          conditions: [],
          ts: ts.toString(),
        },
      },
    });
  }
}

const batchTestEnv = mergeSpecs(serviceEnv(3105), postgresEnv, s3Env, batchEnv, {
  ARCHIVE_CATALOG_SCHEMA: env.string({ default: 'archive', description: 'catalog schema' }),
});

@Module({})
class BatchTestModule {}

describe('batch jobs end to end: catalog files -> job -> gold files in S3 and the catalog', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'hdm-batch-it-'));
  const config = parseEnv(batchTestEnv, {
    AUTH_API_KEYS: TEST_AUTH_API_KEYS,
    LOG_LEVEL: 'warn',
    DATABASE_URL: infraEnv['DATABASE_URL'],
    S3_ENDPOINT: infraEnv['S3_ENDPOINT'],
    S3_ACCESS_KEY_ID: infraEnv['S3_ACCESS_KEY_ID'],
    S3_SECRET_ACCESS_KEY: infraEnv['S3_SECRET_ACCESS_KEY'],
    S3_BUCKET: bucket,
    ARCHIVE_CATALOG_SCHEMA: schema,
    BATCH_WORK_DIR: workDir,
    // Longer than the test runs: a replaced object goes only once the test ends its grace period, never
    // because the service's periodic sweep happened to run between two steps.
    BATCH_OBSOLETE_GRACE_MS: '1h',
    BATCH_THREADS: '1',
  });
  const s3: S3Client = createS3Client(config);
  const pool = new Pool({ connectionString: config.DATABASE_URL, max: 2 });
  let app: INestApplication;
  let baseUrl: string;
  let duck: DuckDBInstance;
  const archivedKeys: string[] = [];

  async function archive(dataset: ArchivedDataset, byPartition: Map<number, ArchiveRecord[]>): Promise<void> {
    const catalog = await catalogDataSource(config.DATABASE_URL, schema, 'hdm-batch-it').initialize();
    const writer = await ParquetPartitionWriter.open({ threads: 1 });
    try {
      const archiver = new TopicArchiver(writer, s3, bucket, catalog, schema);
      for (const [partition, records] of byPartition) {
        archivedKeys.push(...(await archiver.archive(dataset, partition, records)).committed);
      }
    } finally {
      writer.close();
      await catalog.destroy();
    }
  }

  beforeAll(async () => {
    await migrateBatchCatalog(config.DATABASE_URL, schema);
    // the trades dataset under its usual name; a topic of this run keeps the object keys apart from other tests
    await archive(
      {
        name: 'market_trades',
        topic: `it.batch.${run}.market.trades`,
        schemaVersion: 1,
        columns: archiveColumnsOf(CATALOG['market.trades'].schema),
        retentionDays: null,
      },
      new Map([0, 1].map((p) => [p, trades.filter((t) => t.partition === p).map((t) => t.record)])),
    );
    duck = await DuckDBInstance.create(':memory:');
    app = await NestFactory.create({ module: BatchTestModule, imports: [BatchModule.forRoot(config)] }, { logger: false });
    await app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app?.close();
    const { rows } = await pool.query(
      `SELECT object_key FROM "${schema}".files UNION SELECT object_key FROM "${schema}".batch_obsolete_objects`,
    );
    const keys = [...new Set([...archivedKeys, ...rows.map((r: { object_key: string }) => r.object_key)])];
    for (let i = 0; i < keys.length; i += 1000) {
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }));
    }
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
    s3.destroy();
    duck?.closeSync();
    rmSync(workDir, { recursive: true, force: true });
  });

  async function startJob(body: Record<string, unknown>): Promise<BatchRunView> {
    const response = await authorizedFetch(`${baseUrl}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(202);
    const queued = (await response.json()) as BatchRunView;
    expect(response.headers.get('location')).toBe(`/v1/jobs/${queued.id}`);
    return queued;
  }

  async function finished(id: string): Promise<BatchRunView> {
    return eventually<BatchRunView | null>(
      async () => {
        const view = (await (await authorizedFetch(`${baseUrl}/v1/jobs/${id}`)).json()) as BatchRunView;
        return view.status === 'succeeded' || view.status === 'failed' ? view : null;
      },
      `batch run ${id} to finish`,
      90_000,
    ) as Promise<BatchRunView>;
  }

  async function goldFiles(dataset: string): Promise<{ object_key: string; row_count: string; symbols: string[] }[]> {
    const { rows } = await pool.query(
      `SELECT object_key, row_count, symbols FROM "${schema}".files WHERE dataset = $1 ORDER BY object_key`,
      [dataset],
    );
    return rows;
  }

  /** Reads the committed objects of a dataset from S3 with DuckDB. */
  async function readGold(dataset: string, sql: string): Promise<Record<string, unknown>[]> {
    const dir = mkdtempSync(join(workDir, 'read-'));
    const paths = [];
    for (const file of await goldFiles(dataset)) paths.push(await downloadObject(s3, bucket, file.object_key, dir));
    const connection = await duck.connect();
    try {
      const list = paths.map((p) => `'${p}'`).join(', ');
      return (await connection.runAndReadAll(sql.replace('$files', `read_parquet([${list}], union_by_name = true)`))).getRowObjectsJS() as Record<string, unknown>[];
    } finally {
      connection.closeSync();
    }
  }

  let firstRun: BatchRunView;

  it('runs the candles job over HTTP and commits gold files that DuckDB reads back with every trade counted', async () => {
    const queued = await startJob({ job: 'candles', from: '2026-03-02T14:00:00Z', to: '2026-03-02T16:00:00Z' });
    expect(queued).toMatchObject({ job: 'candles', status: 'queued', fromNs: T0.toString(), outputDatasets: ['gold_candles_1s', 'gold_candles_10s', 'gold_candles_1m'] });
    firstRun = await finished(queued.id);
    expect(firstRun).toMatchObject({ status: 'succeeded', percent: 100, error: null, rows: { input: trades.length } });
    expect(firstRun.result?.['inputs']).toEqual({ market_trades: { files: 4, rows: trades.length, bytes: expect.any(Number) } });

    const files = await goldFiles('gold_candles_1m');
    expect(files.map((f) => f.object_key)).toEqual([
      `gold_candles_1m/date=2026-03-02/hour=14/${queued.id}.parquet`,
      `gold_candles_1m/date=2026-03-02/hour=15/${queued.id}.parquet`,
    ]);
    expect(files.every((f) => f.symbols.join() === 'QQQ,SPY')).toBe(true);
    const [totals] = await readGold('gold_candles_1m', 'SELECT count(*) AS candles, sum(trades) AS trades, sum(volume) AS volume FROM $files');
    const volume = trades.reduce((sum, t) => sum + BigInt(t.record.value['size'] as number), 0n);
    expect(totals).toEqual({ candles: 240n, trades: BigInt(trades.length), volume });
    expect(firstRun.result?.['outputs']).toMatchObject({ gold_candles_1m: { files: 2, rows: 240, replacedFiles: 0 } });

    // one candle checked against its trades
    const window = trades.filter((t) => t.partition === 0 && t.record.eventTimeNs >= T0 + 30n * M && t.record.eventTimeNs < T0 + 31n * M);
    const [candle] = await readGold('gold_candles_1m', `SELECT * FROM $files WHERE symbol = 'SPY' AND "windowStart" = ${T0 + 30n * M}`);
    const prices = window.map((t) => t.record.value['price'] as number);
    expect(candle).toMatchObject({
      open: prices[0],
      close: prices[prices.length - 1],
      high: Math.max(...prices),
      low: Math.min(...prices),
      trades: BigInt(window.length),
      ts: T0 + 30n * M,
    });
  });

  it('replaces the output of a rerun atomically, keeping the rows outside its range and symbols, and deletes the old objects later', async () => {
    const rerun = await finished((await startJob({ job: 'candles', from: '2026-03-02T14:00:00Z', to: '2026-03-02T14:30:00Z', symbols: ['SPY'], params: { intervals: ['1m'] } })).id);
    expect(rerun.status).toBe('succeeded');
    expect(rerun.result?.['outputs']).toMatchObject({ gold_candles_1m: { files: 1, replacedFiles: 1 } });
    const files = await goldFiles('gold_candles_1m');
    expect(files.map((f) => f.object_key)).toEqual([
      `gold_candles_1m/date=2026-03-02/hour=14/${rerun.id}.parquet`,
      `gold_candles_1m/date=2026-03-02/hour=15/${firstRun.id}.parquet`,
    ]);
    const [totals] = await readGold('gold_candles_1m', 'SELECT count(*) AS candles, sum(trades) AS trades FROM $files');
    expect(totals).toEqual({ candles: 240n, trades: BigInt(trades.length) });

    const replaced = `gold_candles_1m/date=2026-03-02/hour=14/${firstRun.id}.parquet`;
    const obsolete = async () =>
      (await pool.query(`SELECT object_key FROM "${schema}".batch_obsolete_objects`)).rows.map((r: { object_key: string }) => r.object_key);
    expect(await obsolete()).toEqual([replaced]);
    const jobs = app.get(BatchJobService);
    expect(await jobs.sweepObsoleteObjects()).toBe(0); // within its grace period
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: replaced }));
    // the grace period ends (the catalog's clock decides), and the next sweep deletes it, and only it
    await pool.query(`UPDATE "${schema}".batch_obsolete_objects SET delete_after = now() WHERE object_key = $1`, [replaced]);
    await jobs.sweepObsoleteObjects();
    await expect(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: replaced }))).rejects.toMatchObject({ name: 'NotFound' });
    expect(await obsolete()).toEqual([]);
    for (const file of await goldFiles('gold_candles_1m')) await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: file.object_key }));
  });

  it('reconciles against the archived real-time candles and reports the one injected difference', async () => {
    const batch = await readGold('gold_candles_1m', 'SELECT * FROM $files ORDER BY symbol, ts');
    const records = new Map<number, ArchiveRecord[]>([[0, []]]);
    batch.forEach((c, i) => {
      const windowEnd = c['windowEnd'] as bigint;
      records.get(0)?.push({
        offset: BigInt(i),
        key: `${c['symbol']}|${c['windowStart']}`,
        eventTimeNs: windowEnd,
        value: {
          symbol: c['symbol'],
          interval: '1m',
          windowStart: String(c['windowStart']),
          windowEnd: String(windowEnd),
          open: c['open'],
          high: c['high'],
          low: c['low'],
          // the speed layer got one window wrong
          close: i === 7 ? (c['close'] as number) + 0.01 : c['close'],
          volume: Number(c['volume']),
          vwap: c['vwap'],
          trades: Number(c['trades']),
          revision: 0,
          final: true,
          ts: String(windowEnd),
        },
      });
    });
    await archive(
      { name: 'candles_1m', topic: `it.batch.${run}.candles.1m`, schemaVersion: 1, columns: archiveColumnsOf(CATALOG['candles.1m'].schema), retentionDays: null },
      records,
    );
    const view = await finished(
      (await startJob({ job: 'reconcile', from: '2026-03-02T14:00:00Z', to: '2026-03-02T16:00:00Z', params: { intervals: ['1m'] } })).id,
    );
    expect(view.status).toBe('succeeded');
    expect(view.result).toMatchObject({
      windows: 240,
      matched: 239,
      mismatched: 1,
      missingRealtime: 0,
      missingBatch: 0,
      fieldDifferences: { close: { windows: 1 }, open: { windows: 0 } },
      differences: [{ symbol: batch[7]?.['symbol'], windowStart: String(batch[7]?.['windowStart']), differingFields: 'close' }],
    });
    expect(view.result?.['driftPercent']).toBeCloseTo(100 / 240, 10);
    const [stored] = await readGold('gold_candle_reconciliation', `SELECT count(*) AS n, count(*) FILTER (WHERE status = 'matched') AS matched FROM $files`);
    expect(stored).toEqual({ n: 240n, matched: 239n });
  });

  it('lists recent runs newest first, kept in the catalog history table', async () => {
    const listed = (await (await authorizedFetch(`${baseUrl}/v1/jobs?limit=2`)).json()) as { jobs: BatchRunView[] };
    expect(listed.jobs.map((j) => j.job)).toEqual(['reconcile', 'candles']);
    const { rows } = await pool.query(`SELECT job, status, output_rows FROM "${schema}".batch_jobs ORDER BY created_at`);
    expect(rows.map((r: { job: string; status: string }) => `${r.job}:${r.status}`)).toEqual([
      'candles:succeeded',
      'candles:succeeded',
      'reconcile:succeeded',
    ]);
  });

  it('refuses a bad request with 400 naming the field, and an unknown run with 404', async () => {
    const response = await authorizedFetch(`${baseUrl}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ job: 'candles', from: '2026-03-02T14:00:10Z', to: '2026-03-02T15:00:00Z' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ statusCode: 400, parameter: 'from', message: expect.stringContaining('1m boundary') });
    const missing = await authorizedFetch(`${baseUrl}/v1/jobs/00000000-0000-4000-8000-000000000000`);
    expect(missing.status).toBe(404);
  });
});
