import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { CATALOG } from '@tributary/contracts';
import { ClusterAdmin, kafkaConnection, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createS3Client } from '@tributary/observability';
import { authorizedFetch, eventually, readInfraEnv } from '@tributary/testing';
import { DataSource } from 'typeorm';
import { metricValue, type RunningApp, startTestApp, testConfig } from '../../testing/archive-app';
import { datasetOfTopic } from '../archive/archive-layout';
import { catalogDataSource, migrateCatalog } from '../archive/catalog-database';
import {
  archiveColumnsOf,
  type ArchiveRecord,
  ParquetPartitionWriter,
} from '../archive/parquet-partition-writer';
import { TopicArchiveService } from '../archive/topic-archive.service';
import { type ArchivedDataset, TopicArchiver } from '../archive/topic-archiver';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const catalogSchema = `hdm_query_it_${run}`;
const bucket = 'tributary-test';
const servedTopic = `hdm.query.it.${run}`;
const servedDataset = datasetOfTopic(servedTopic);
const groupId = `hdm-query-it-${run}`;

/** The archived dataset the query tests read: six hours over two days, three source partitions. */
const seeded: ArchivedDataset = {
  name: `market_trades_query_${run}`,
  topic: 'market.trades',
  schemaVersion: CATALOG['market.trades'].version,
  columns: archiveColumnsOf(CATALOG['market.trades'].schema),
  retentionDays: null,
};
const SYMBOLS_BY_PARTITION = [['AAPL', 'MSFT'], ['SPY'], ['QQQ', 'TSLA']] as const;
const HOUR_STARTS = [
  '2026-01-01T00',
  '2026-01-01T01',
  '2026-01-01T02',
  '2026-01-02T00',
  '2026-01-02T01',
  '2026-01-02T02',
].map((h) => BigInt(Date.parse(`${h}:00:00Z`)) * 1_000_000n);
const ROWS_PER_FILE = 120;
const FIRST_OFFSET = 2n ** 60n;

interface SeededRow {
  partition: number;
  record: ArchiveRecord;
}

/** One file per (hour, partition): 120 trades 29.000000123 s apart, offsets above 2^60. */
function seedRows(): SeededRow[] {
  const rows: SeededRow[] = [];
  HOUR_STARTS.forEach((start, h) => {
    SYMBOLS_BY_PARTITION.forEach((symbols, partition) => {
      for (let i = 0; i < ROWS_PER_FILE; i++) {
        const symbol = symbols[i % symbols.length] as string;
        const ts = start + BigInt(i) * 29_000_000_123n + BigInt(partition) * 7n;
        rows.push({
          partition,
          record: {
            offset: FIRST_OFFSET + BigInt(h * 1000 + i),
            key: symbol,
            eventTimeNs: ts,
            value: {
              symbol,
              price: 100 + i / 8,
              size: 1 + i,
              exchange: 'Q',
              tradeId: `T${h}-${partition}-${i}`,
              conditions: i % 2 ? ['@', 'I'] : [],
              ts: ts.toString(),
            },
          },
        });
      }
    });
  });
  return rows;
}

const all = seedRows();

/** What the API must answer: rows in range and symbols, ordered by event time, then partition, then offset. */
function expected(fromNs: bigint, toNs: bigint, symbols: string[] = []): Record<string, unknown>[] {
  return all
    .filter((r) => r.record.eventTimeNs >= fromNs && r.record.eventTimeNs < toNs)
    .filter((r) => symbols.length === 0 || symbols.includes(r.record.value['symbol'] as string))
    .sort((a, b) =>
      a.record.eventTimeNs !== b.record.eventTimeNs
        ? a.record.eventTimeNs < b.record.eventTimeNs
          ? -1
          : 1
        : a.partition - b.partition || (a.record.offset < b.record.offset ? -1 : 1),
    )
    .map((r) => ({
      kafka_partition: r.partition,
      kafka_offset: r.record.offset.toString(),
      symbol: r.record.value['symbol'],
      price: r.record.value['price'],
      size: r.record.value['size'],
      conditions: r.record.value['conditions'],
      ts: r.record.eventTimeNs.toString(),
    }));
}

const HOUR = 3_600_000_000_000n;
const day1 = HOUR_STARTS[0] as bigint;
const day2 = HOUR_STARTS[3] as bigint;
const iso = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();

describe('query API over the archive: GET /v1/datasets and /v1/datasets/:dataset/rows', () => {
  const s3: S3Client = createS3Client(testConfig({}));
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'] }), `hdm-query-it-${run}`);
  const admin = new ClusterAdmin(connection);
  // Idempotent, acks=all, keys placed as the Java client places them.
  const producer = new TypedProducer(connection, { service: `hdm-query-it-${run}`, validate: false });
  let catalog: DataSource;
  let service: RunningApp;
  let duck: DuckDBInstance;
  let dir: string;
  let fileBytes: number[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hdm-query-it-'));
    await migrateCatalog(infraEnv['DATABASE_URL'] as string, catalogSchema);
    catalog = await catalogDataSource(
      infraEnv['DATABASE_URL'] as string,
      catalogSchema,
      'hdm-query-it',
    ).initialize();
    const writer = await ParquetPartitionWriter.open();
    const archiver = new TopicArchiver(writer, s3, bucket, catalog, catalogSchema);
    try {
      for (let h = 0; h < HOUR_STARTS.length; h++) {
        for (let p = 0; p < SYMBOLS_BY_PARTITION.length; p++) {
          const records = all
            .filter(
              (r) =>
                r.partition === p &&
                r.record.offset >= FIRST_OFFSET + BigInt(h * 1000) &&
                r.record.offset < FIRST_OFFSET + BigInt(h * 1000 + 1000),
            )
            .map((r) => r.record);
          await archiver.archive(seeded, p, records);
        }
      }
    } finally {
      writer.close();
    }
    const sizes: { byte_size: string }[] = await catalog.query(
      `SELECT byte_size FROM "${catalogSchema}".files`,
    );
    fileBytes = sizes.map((s) => Number(s.byte_size));

    await admin.ensureConfigs([{ topic: servedTopic, numPartitions: 2 }]);
    await producer.connect();
    duck = await DuckDBInstance.create(':memory:');
    service = await startTestApp(
      testConfig({
        KAFKA_GROUP_ID: groupId,
        ARCHIVE_TOPICS: `${servedTopic}:market.trades`,
        ARCHIVE_CATALOG_SCHEMA: catalogSchema,
        // the served topic's records stay in the buffer until the test flushes them
        ARCHIVE_FLUSH_AGE_MS: '1h',
        ARCHIVE_FLUSH_ROWS: '100000',
        HISTORY_CACHE_DIR: join(dir, 'cache'),
        // room for the nine files of three hours, not for the eighteen of both days; one query
        // reads at most this many bytes (HISTORY_QUERY_MAX_BYTES is clipped to the cache's bound)
        HISTORY_CACHE_MAX_BYTES: String(Math.max(...fileBytes) * 10),
        HISTORY_QUERY_MAX_ROWS: '1000',
        HISTORY_QUERY_MAX_RANGE_MS: '72h',
      }),
    );
  });

  afterAll(async () => {
    await service?.close();
    await producer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics([servedTopic, `${servedTopic}.dlq`]).catch(() => undefined);
    await admin.close();
    for (const prefix of [seeded.name, servedDataset]) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/` }));
      const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
    await catalog?.query(`DROP SCHEMA IF EXISTS "${catalogSchema}" CASCADE`);
    await catalog?.destroy();
    s3.destroy();
    duck?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  const rowsUrl = (dataset: string, params: Record<string, string>) =>
    `${service.baseUrl}/v1/datasets/${dataset}/rows?${new URLSearchParams(params).toString()}`;

  async function getJson(
    dataset: string,
    params: Record<string, string>,
  ): Promise<Record<string, unknown>[]> {
    const response = await authorizedFetch(rowsUrl(dataset, params));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    return (await response.json()) as Record<string, unknown>[];
  }

  const COLUMNS = 'kafka_partition,kafka_offset,symbol,price,size,conditions,ts';

  it('lists the datasets with their columns, files, rows and event-time range', async () => {
    const response = await authorizedFetch(`${service.baseUrl}/v1/datasets`);
    expect(response.status).toBe(200);
    const { datasets } = (await response.json()) as { datasets: Record<string, unknown>[] };
    const listed = datasets.find((d) => d['name'] === seeded.name);
    expect(listed).toMatchObject({
      sourceTopic: 'market.trades',
      files: 18,
      rows: 18 * ROWS_PER_FILE,
      symbolColumn: 'symbol',
      fromNs: day1.toString(),
      from: '2026-01-01T00:00:00.000000000Z',
      bufferedRows: 0,
    });
    expect((listed?.['columns'] as { name: string }[]).map((c) => c.name)).toEqual([
      'kafka_partition',
      'kafka_offset',
      'record_key',
      'symbol',
      'price',
      'size',
      'exchange',
      'tradeId',
      'conditions',
      'tape',
      'ts',
      'event_time',
    ]);
    // a configured dataset without any committed file yet is listed too
    expect(datasets.find((d) => d['name'] === servedDataset)).toMatchObject({
      files: 0,
      rows: 0,
      from: null,
    });
  });

  it('JSON rows of one symbol over an hour are exact (nanosecond times and offsets above 2^60 as strings), in event-time order', async () => {
    const from = day1 + HOUR;
    const rows = await getJson(seeded.name, {
      from: iso(from),
      to: iso(from + HOUR),
      symbols: 'SPY',
      columns: COLUMNS,
    });
    expect(rows).toEqual(expected(from, from + HOUR, ['SPY']));
    expect(rows).toHaveLength(ROWS_PER_FILE);
  });

  it('a range given in epoch nanoseconds mid-hour returns exactly the rows inside it, from every partition', async () => {
    const from = day1 + 1_000_000_000_123n;
    const to = day1 + 2n * HOUR + 600_000_000_000n;
    const rows = await getJson(seeded.name, {
      from: from.toString(),
      to: to.toString(),
      columns: COLUMNS,
      limit: '1000',
    });
    expect(rows).toEqual(expected(from, to));
  });

  it('NDJSON and CSV carry the same rows as JSON', async () => {
    const from = day2;
    const params = {
      from: iso(from),
      to: iso(from + HOUR),
      symbols: 'AAPL,TSLA',
      columns: 'kafka_offset,symbol,price,conditions,ts',
    };
    const json = await getJson(seeded.name, params);
    expect(json).toHaveLength(ROWS_PER_FILE);

    const ndjson = await authorizedFetch(rowsUrl(seeded.name, { ...params, format: 'ndjson' }));
    expect(ndjson.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await ndjson.text())
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(lines).toEqual(json);

    const csv = await authorizedFetch(rowsUrl(seeded.name, { ...params, format: 'csv' }));
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, ...body] = (await csv.text()).trimEnd().split('\n');
    expect(header).toBe('kafka_offset,symbol,price,conditions,ts');
    expect(body).toHaveLength(json.length);
    const quoted = (text: string) => (/[",]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
    expect(body).toEqual(
      json.map((r) =>
        [r['kafka_offset'], r['symbol'], r['price'], quoted(JSON.stringify(r['conditions'])), r['ts']].join(
          ',',
        ),
      ),
    );
  });

  it('Parquet output is read back by DuckDB with the same rows, INT64 values exact', async () => {
    const from = day1;
    const response = await authorizedFetch(
      rowsUrl(seeded.name, {
        from: iso(from),
        to: iso(from + HOUR),
        symbols: 'QQQ',
        columns: COLUMNS,
        format: 'parquet',
      }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    const path = join(dir, 'answer.parquet');
    writeFileSync(path, Buffer.from(await response.arrayBuffer()));
    const connection = await duck.connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT kafka_partition, kafka_offset::VARCHAR AS kafka_offset, symbol, price, size, conditions, ts::VARCHAR AS ts FROM read_parquet('${path}')`,
      );
      const rows = reader
        .getRowObjectsJS()
        .map((r) => ({
          ...r,
          size: Number(r['size']),
          conditions: JSON.parse(String(r['conditions'])) as unknown,
        }));
      expect(rows).toEqual(expected(from, from + HOUR, ['QQQ']));
    } finally {
      connection.closeSync();
    }
  });

  it('files outside the range and symbols are never fetched: one file for one symbol-hour, hits after that', async () => {
    const misses = () => metricValue(service.baseUrl, 'tributary_history_cache_misses_total');
    const hits = () => metricValue(service.baseUrl, 'tributary_history_cache_hits_total');
    const from = day2 + 2n * HOUR; // not queried before
    const params = { from: iso(from), to: iso(from + HOUR), symbols: 'SPY', columns: 'ts' };
    const [missesBefore, hitsBefore] = [await misses(), await hits()];
    expect(await getJson(seeded.name, params)).toHaveLength(ROWS_PER_FILE);
    expect(await misses()).toBe(missesBefore + 1); // of 18 files, only partition 1 of that hour
    expect(await hits()).toBe(hitsBefore);
    expect(await getJson(seeded.name, params)).toHaveLength(ROWS_PER_FILE);
    expect(await misses()).toBe(missesBefore + 1);
    expect(await hits()).toBe(hitsBefore + 1);
  });

  it('the cache stays within its byte bound: reading both days evicts the least recently used files, which are fetched again later', async () => {
    const evictedBefore = await metricValue(service.baseUrl, 'tributary_history_cache_evicted_bytes_total');
    for (const day of [day1, day2]) {
      const rows = await getJson(seeded.name, {
        from: iso(day),
        to: iso(day + 3n * HOUR),
        columns: 'ts',
        limit: '1000',
      });
      expect(rows).toHaveLength(9 * ROWS_PER_FILE > 1000 ? 1000 : 9 * ROWS_PER_FILE);
    }
    expect(await metricValue(service.baseUrl, 'tributary_history_cache_evicted_bytes_total')).toBeGreaterThan(
      evictedBefore,
    );
    const max = Math.max(...fileBytes) * 10;
    expect(await metricValue(service.baseUrl, 'tributary_history_cache_bytes')).toBeLessThanOrEqual(max);

    const missesBefore = await metricValue(service.baseUrl, 'tributary_history_cache_misses_total');
    await getJson(seeded.name, { from: iso(day1), to: iso(day1 + HOUR), columns: 'ts' });
    expect(await metricValue(service.baseUrl, 'tributary_history_cache_misses_total')).toBeGreaterThan(
      missesBefore,
    );
  });

  it('bad requests get a 4xx naming the parameter; an unknown dataset a 404', async () => {
    const status = async (dataset: string, params: Record<string, string>) => {
      const response = await authorizedFetch(rowsUrl(dataset, params));
      return { status: response.status, ...((await response.json()) as Record<string, unknown>) };
    };
    const from = iso(day1);
    const to = iso(day1 + HOUR);
    expect(await status(seeded.name, { from: 'yesterday' })).toMatchObject({
      status: 400,
      parameter: 'from',
    });
    expect(await status(seeded.name, { from, to: iso(day1 - HOUR) })).toMatchObject({
      status: 400,
      parameter: 'to',
    });
    expect(await status(seeded.name, { from, to, columns: 'symbol,bid' })).toMatchObject({
      status: 400,
      parameter: 'columns',
      message: expect.stringContaining('"bid"'),
    });
    expect(await status(seeded.name, { from, to, format: 'xlsx' })).toMatchObject({
      status: 400,
      parameter: 'format',
    });
    expect(await status('no_such_dataset', { from, to })).toMatchObject({
      status: 404,
      message: 'unknown dataset "no_such_dataset"',
    });
    expect(await status(seeded.name, { from, to: iso(day1 + 73n * HOUR) })).toMatchObject({
      status: 422,
      parameter: 'to',
    });
    expect(await status(seeded.name, { from, to, limit: '1001' })).toMatchObject({
      status: 422,
      parameter: 'limit',
    });
    // 1,080 rows match the first day's three hours: more than the 1,000 one response may carry
    expect(await status(seeded.name, { from, to: iso(day1 + 3n * HOUR) })).toMatchObject({
      status: 413,
      parameter: 'limit',
    });
    // the two days' eighteen files hold more bytes than one query may read (the cache's bound here)
    expect(await status(seeded.name, { from, to: iso(day2 + 3n * HOUR) })).toMatchObject({
      status: 429,
      budget: 'HISTORY_CACHE_MAX_BYTES',
      parameter: 'from',
    });
  });

  it('serving layer: rows still buffered appear in a query before their flush, and exactly once after it', async () => {
    const t0 = BigInt(Date.parse('2026-01-03T00:00:00Z')) * 1_000_000n;
    const trades = Array.from({ length: 50 }, (_, i) => ({
      symbol: i % 2 ? 'AAPL' : 'SPY',
      price: 10 + i,
      size: i + 1,
      exchange: 'Q',
      tradeId: `B${i}`,
      conditions: [],
      ts: (t0 + BigInt(i) * 1_000_000_001n).toString(),
    }));
    await producer.sendRaw(
      servedTopic,
      trades.map((t) => ({
        key: t.symbol,
        value: JSON.stringify(t),
        headers: { 'event.time': t.ts },
      })),
    );
    const archive = service.app.get(TopicArchiveService);
    await eventually(() => archive.bufferedRowCount() === 50, 30_000, 'the 50 trades fetched and held');

    const params = { from: iso(t0), to: iso(t0 + HOUR), columns: 'kafka_partition,kafka_offset,tradeId,ts' };
    const before = await getJson(servedDataset, params);
    expect(before.map((r) => r['tradeId']).sort()).toEqual(trades.map((t) => t.tradeId).sort());
    expect(before.map((r) => r['ts'])).toEqual(trades.map((t) => t.ts)); // event-time order
    const [files] = (await catalog.query(
      `SELECT count(*)::int AS n FROM "${catalogSchema}".files WHERE dataset = $1`,
      [servedDataset],
    )) as { n: number }[];
    expect(files?.n).toBe(0); // none of it is in a file yet
    const onlySpy = await getJson(servedDataset, { ...params, symbols: 'SPY' });
    expect(onlySpy.map((r) => r['tradeId'])).toEqual(
      trades.filter((t) => t.symbol === 'SPY').map((t) => t.tradeId),
    );

    await archive.flushAll();
    await eventually(() => archive.bufferedRowCount() === 0, 30_000, 'the buffer flushed');
    const after = await getJson(servedDataset, params);
    expect(after).toEqual(before);
    const [flushed] = (await catalog.query(
      `SELECT coalesce(sum(row_count), 0)::int AS n FROM "${catalogSchema}".files WHERE dataset = $1`,
      [servedDataset],
    )) as { n: number }[];
    expect(flushed?.n).toBe(50);
  });
});
