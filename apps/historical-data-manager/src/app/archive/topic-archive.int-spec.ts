import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseEnv } from '@tributary/config';
import { ClusterAdmin, connectKafkaConsumer, kafkaConnection, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createS3Client } from '@tributary/observability';
import { TEST_AUTH_API_KEYS, eventually, readInfraEnv } from '@tributary/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { historicalDataManagerEnv, type HistoricalDataManagerConfig } from '../../config';
import { AppModule } from '../app.module';
import { committedObjectKeys, downloadObject } from '../../testing/archived-objects';
import { datasetOfTopic } from './archive-layout';
import { TopicArchiveService } from './topic-archive.service';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const topic = `hdm.archive.it.${run}`;
const dataset = datasetOfTopic(topic);
const catalogSchema = `hdm_archive_it_${run}`;
const bucket = 'tributary-test';
const groups: string[] = [];

function configOf(overrides: Record<string, string>): HistoricalDataManagerConfig {
  return parseEnv(historicalDataManagerEnv, {
    AUTH_API_KEYS: TEST_AUTH_API_KEYS,
    LOG_LEVEL: 'warn',
    KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'] as string,
    DATABASE_URL: infraEnv['DATABASE_URL'] as string,
    S3_ENDPOINT: infraEnv['S3_ENDPOINT'] as string,
    S3_ACCESS_KEY_ID: infraEnv['S3_ACCESS_KEY_ID'] as string,
    S3_SECRET_ACCESS_KEY: infraEnv['S3_SECRET_ACCESS_KEY'] as string,
    S3_BUCKET: bucket,
    ARCHIVE_TOPICS: `${topic}:market.trades`,
    ARCHIVE_CATALOG_SCHEMA: catalogSchema,
    ARCHIVE_FLUSH_ROWS: '400',
    ARCHIVE_FLUSH_AGE_MS: '300ms',
    ...overrides,
  });
}

/** The service as `main.ts` runs it, in this process: the app module and the Kafka consumer of `groupId`. */
async function startArchiver(groupId: string, overrides: Record<string, string> = {}) {
  groups.push(groupId);
  const config = configOf({ KAFKA_GROUP_ID: groupId, ...overrides });
  const app: INestApplication = await NestFactory.create(AppModule.forRoot(config), { logger: false });
  const { server } = connectKafkaConsumer(app, {
    service: 'historical-data-manager',
    groupId,
    config,
    shutdownTimeoutMs: 20_000,
  });
  let consumed = 0;
  server.on('batch', (batch) => (consumed += batch.records));
  await app.startAllMicroservices();
  await app.init();
  return { app, server, consumed: () => consumed };
}

/** Trades with nanosecond event times across an hour boundary, keyed by symbol over the topic's partitions. */
function trades(from: number, count: number) {
  const t0 = 1_767_229_199_990_000_123n; // 2026-01-01T00:59:59.990000123Z
  return Array.from({ length: count }, (_, j) => {
    const i = from + j;
    const symbol = ['AAPL', 'MSFT', 'SPY', 'QQQ', 'TSLA'][i % 5] as string;
    const ts = (t0 + BigInt(i) * 20_000_001n).toString();
    return {
      symbol,
      price: 100 + i / 100,
      size: 1 + (i % 300),
      exchange: 'Q',
      tradeId: `T${i}`,
      conditions: ['@'],
      ts,
    };
  });
}

describe('archive of configured topics from the real broker to Parquet on S3', () => {
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'] }), `hdm-archive-it-${run}`);
  const admin = new ClusterAdmin(connection);
  // Idempotent, acks=all, keys placed as the Java client places them.
  const producer = new TypedProducer(connection, { service: `hdm-archive-it-${run}`, validate: false });
  let catalog: DataSource;
  let s3: S3Client;
  let duck: DuckDBInstance;
  let dir: string;

  beforeAll(async () => {
    await admin.ensureConfigs([{ topic, numPartitions: 3 }]);
    await producer.connect();
    catalog = await new DataSource({
      type: 'postgres',
      url: infraEnv['DATABASE_URL'] as string,
    }).initialize();
    s3 = createS3Client(configOf({}));
    duck = await DuckDBInstance.create(':memory:');
    dir = mkdtempSync(join(tmpdir(), 'hdm-archive-it-'));
  });

  afterAll(async () => {
    await producer.disconnect();
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics([topic, `${topic}.dlq`]).catch(() => undefined);
    await admin.close();
    for (;;) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${dataset}/` }));
      const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (keys.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
    await catalog?.query(`DROP SCHEMA IF EXISTS "${catalogSchema}" CASCADE`);
    await catalog?.destroy();
    s3?.destroy();
    duck?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  async function produce(from: number, count: number): Promise<void> {
    await producer.sendRaw(
      topic,
      trades(from, count).map((t) => ({
        key: t.symbol,
        value: JSON.stringify(t),
        headers: { 'event.time': t.ts },
      })),
    );
  }

  async function catalogRows(): Promise<number> {
    const [row] = await catalog
      .query(
        `SELECT coalesce(sum(row_count), 0)::text AS rows FROM "${catalogSchema}".files WHERE dataset = $1`,
        [dataset],
      )
      .catch(() => [{ rows: '0' }]);
    return Number(row.rows);
  }

  async function committedOffsets(groupId: string): Promise<Record<number, string>> {
    // a partition with nothing committed yet is absent
    const committed = (await admin.committedOffsets(groupId, [topic])).get(topic) ?? new Map<number, bigint>();
    return Object.fromEntries([...committed].map(([partition, offset]) => [partition, offset.toString()]));
  }

  async function archivedOffsets(): Promise<Record<number, string>> {
    const rows: { source_partition: number; next_offset: string }[] = await catalog.query(
      `SELECT source_partition, next_offset FROM "${catalogSchema}".archived_offsets WHERE source_topic = $1`,
      [topic],
    );
    return Object.fromEntries(rows.map((r) => [r.source_partition, r.next_offset]));
  }

  /** Every row of the archive as DuckDB reads the committed objects: `partition|offset|tradeId|ts`. */
  async function archivedRows(): Promise<string[]> {
    const paths: string[] = [];
    for (const key of await committedObjectKeys(catalog, catalogSchema, dataset)) {
      paths.push(await downloadObject(s3, bucket, key, dir));
    }
    const connection = await duck.connect();
    try {
      const reader = await connection.runAndReadAll(
        `SELECT kafka_partition, kafka_offset, tradeId, ts FROM read_parquet([${paths.map((p) => `'${p}'`).join(', ')}])`,
      );
      return reader.getRowsJS().map((row) => row.map(String).join('|'));
    } finally {
      connection.closeSync();
    }
  }

  function expectExactlyOnce(rows: string[], count: number): void {
    const tradeIds = rows.map((r) => r.split('|')[2]);
    expect(rows).toHaveLength(count);
    expect(new Set(tradeIds).size).toBe(count);
    expect(new Set(rows.map((r) => r.split('|').slice(0, 2).join('|'))).size).toBe(count);
    const expected = new Map(trades(0, count).map((t) => [t.tradeId, t.ts]));
    for (const row of rows) {
      const [, , tradeId, ts] = row.split('|');
      expect(ts).toBe(expected.get(tradeId as string)); // nanoseconds exact
    }
  }

  it('records produced to a configured topic end up in Parquet on S3 exactly once, read back by DuckDB with exact nanosecond times', async () => {
    const archiver = await startArchiver(`hdm-archive-it-${run}-a`);
    try {
      await produce(0, 1000);
      await eventually(async () => (await catalogRows()) === 1000, 'the 1000 records archived');
      expectExactlyOnce(await archivedRows(), 1000);
      const keys: { object_key: string }[] = await catalog.query(
        `SELECT object_key FROM "${catalogSchema}".files WHERE dataset = $1`,
        [dataset],
      );
      expect(
        keys
          .map((k) => k.object_key)
          .every((k) =>
            /\/date=2026-01-01\/hour=0[01]\/hdm\.archive\.it\.[^/]+\+[0-2]\+\d{20}\+\d{20}\.parquet$/.test(k),
          ),
      ).toBe(true);
      // the consumer commits exactly what the catalog holds as archived
      await eventually(
        async () =>
          JSON.stringify(await committedOffsets(`hdm-archive-it-${run}-a`)) ===
          JSON.stringify(await archivedOffsets()),
        'offsets committed',
      );
    } finally {
      await archiver.app.close();
    }
  });

  it('a restarted consumer carries on where it stopped and archives nothing twice', async () => {
    await produce(1000, 200);
    const archiver = await startArchiver(`hdm-archive-it-${run}-a`);
    try {
      await eventually(async () => (await catalogRows()) === 1200, 'the 200 new records archived');
      expectExactlyOnce(await archivedRows(), 1200);
    } finally {
      await archiver.app.close();
    }
  });

  it('a consumer that re-reads the whole topic (offsets lost) archives nothing twice: the catalog skips what it holds', async () => {
    const archiver = await startArchiver(`hdm-archive-it-${run}-b`);
    try {
      await eventually(() => archiver.consumed() >= 1200, 'the topic re-read');
      expect(await catalogRows()).toBe(1200);
      expectExactlyOnce(await archivedRows(), 1200);
    } finally {
      await archiver.app.close();
    }
  });

  it('records only buffered are not committed to Kafka; they are flushed and committed when the service stops', async () => {
    const groupId = `hdm-archive-it-${run}-a`;
    const before = await committedOffsets(groupId);
    const archiver = await startArchiver(groupId, {
      ARCHIVE_FLUSH_AGE_MS: '1h',
      ARCHIVE_FLUSH_ROWS: '100000',
    });
    await produce(1200, 30);
    // the consumer has the records but holds them in the buffer: nothing committed, nothing archived
    const service = archiver.app.get(TopicArchiveService);
    await eventually(() => service.heldRows() === 30, 'records fetched and held');
    // The consumer is done with the batch (it would have committed it by now, had it not been held).
    await eventually(() => archiver.server.health().lastBatchAt !== null, 'the batch handed over');
    expect(await committedOffsets(groupId)).toEqual(before);
    expect(await catalogRows()).toBe(1200);

    await archiver.app.close();
    expect(await catalogRows()).toBe(1230);
    expect(await committedOffsets(groupId)).toEqual(await archivedOffsets());
    expectExactlyOnce(await archivedRows(), 1230);
  });
});
