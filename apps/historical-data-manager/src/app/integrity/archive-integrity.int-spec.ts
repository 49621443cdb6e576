import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ClusterAdmin, kafkaConnection, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createS3Client } from '@tributary/observability';
import { authorizedFetch, eventually, readInfraEnv } from '@tributary/testing';
import { DataSource } from 'typeorm';
import { metricValue, type RunningApp, startTestApp, testConfig } from '../../testing/archive-app';
import { datasetOfTopic } from '../archive/archive-layout';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const topic = `hdm.integrity.it.${run}`;
const dataset = datasetOfTopic(topic);
const catalogSchema = `hdm_integrity_it_${run}`;
const bucket = 'tributary-test';
const groupId = `hdm-integrity-it-${run}`;
const PARTITIONS = 2;
const TRADES = 400;
const T0 = 1_767_229_200_000_000_000n; // 2026-01-01T01:00:00Z: every trade in one hour partition
const FROM = '2026-01-01T00:00:00Z';
const TO = '2026-01-01T03:00:00Z';

interface FileRow {
  object_key: string;
  source_partition: number;
  first_offset: string;
  last_offset: string;
  row_count: string;
  byte_size: string;
  checksum_sha256: string | null;
  store_checksum: string | null;
  checksum_source: string | null;
  state: string;
}

function trade(i: number) {
  const symbol = ['AAPL', 'MSFT', 'SPY', 'QQQ'][i % 4] as string;
  const ts = (T0 + BigInt(i) * 1_000_000_007n).toString();
  return {
    symbol,
    price: 100 + i / 100,
    size: 1 + i,
    exchange: 'Q',
    tradeId: `T${i}`,
    conditions: ['@'],
    ts,
  };
}

/**
 * The catalog checked against the store, against the real broker, S3 server and PostgreSQL: what
 * a query answers when an archived object is gone or differs, what the verification finds, and
 * how repair brings the file back from Kafka or records the gap.
 */
describe('archive integrity: the catalog against the store', () => {
  const connection = kafkaConnection(
    parseKafkaEnv({ KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'] }),
    `hdm-integrity-it-${run}`,
  );
  const admin = new ClusterAdmin(connection);
  const producer = new TypedProducer(connection, { service: `hdm-integrity-it-${run}`, validate: false });
  let catalog: DataSource;
  let s3: S3Client;
  let service: RunningApp;

  beforeAll(async () => {
    await admin.ensureConfigs([{ topic, numPartitions: PARTITIONS }]);
    await producer.connect();
    catalog = await new DataSource({
      type: 'postgres',
      url: infraEnv['DATABASE_URL'] as string,
    }).initialize();
    const config = testConfig({
      ARCHIVE_TOPICS: `${topic}:market.trades`,
      ARCHIVE_CATALOG_SCHEMA: catalogSchema,
      KAFKA_GROUP_ID: groupId,
      ARCHIVE_FLUSH_ROWS: '100',
      ARCHIVE_FLUSH_AGE_MS: '200ms',
      ARCHIVE_COMPACTION_INTERVAL_MS: '0',
      ARCHIVE_VERIFY_ORPHAN_GRACE_MS: '0',
      HISTORY_CACHE_DIR: `/tmp/hdm-integrity-it-${run}`,
    });
    s3 = createS3Client(config);
    service = await startTestApp(config);
    await producer.sendRaw(
      topic,
      Array.from({ length: TRADES }, (_, i) => trade(i)).map((t, i) => ({
        key: t.symbol,
        value: JSON.stringify(t),
        headers: { 'event.time': t.ts },
        partition: i % PARTITIONS,
      })),
    );
    await eventually(async () => (await catalogRowCount()) === TRADES, 'every trade archived', 120_000);
  });

  afterAll(async () => {
    await service?.close();
    await producer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
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
  });

  async function catalogRowCount(): Promise<number> {
    const [row] = await catalog
      .query(
        `SELECT coalesce(sum(row_count), 0)::text AS rows FROM "${catalogSchema}".files WHERE dataset = $1`,
        [dataset],
      )
      .catch(() => [{ rows: '0' }]);
    return Number(row.rows);
  }

  async function files(): Promise<FileRow[]> {
    return catalog.query(
      `SELECT * FROM "${catalogSchema}".files WHERE dataset = $1 ORDER BY source_partition, first_offset`,
      [dataset],
    );
  }

  async function objectBytes(key: string): Promise<Buffer> {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(
      await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
  }

  async function rows(extra = '', format = 'json'): Promise<Response> {
    return authorizedFetch(
      `${service.baseUrl}/v1/datasets/${dataset}/rows?from=${FROM}&to=${TO}&columns=kafka_partition,kafka_offset,tradeId&format=${format}${extra}`,
    );
  }

  /** Every archived row as a query returns it: trade i went to partition i % 2, at offset i / 2, in event-time order. */
  const all = Array.from({ length: TRADES }, (_, i) => ({
    kafka_partition: i % PARTITIONS,
    kafka_offset: String(Math.floor(i / PARTITIONS)),
    tradeId: `T${i}`,
  }));
  let victim: FileRow;

  it('records each archived file with its size and SHA-256 at commit, as the store holds it', async () => {
    const committed = await files();
    expect(committed.length).toBeGreaterThanOrEqual(PARTITIONS);
    for (const file of committed) {
      const bytes = await objectBytes(file.object_key);
      expect(Number(file.byte_size)).toBe(bytes.length);
      expect(file.checksum_sha256).toBe(createHash('sha256').update(bytes).digest('base64'));
      expect(file.store_checksum).toBe(file.checksum_sha256); // one PutObject: the store verified this SHA-256
      expect(file.checksum_source).toBe('commit');
      expect(file.state).toBe('ok');
    }
  });

  it('answers a query over a deleted object with 409 naming the file and the dataset state, not 503', async () => {
    victim = (await files())[0] as FileRow;
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: victim.object_key }));
    // nothing was queried before: the service's cache is empty and the query goes to the store
    const answer = await rows('&symbols=AAPL,MSFT,SPY,QQQ');
    expect(answer.status).toBe(409);
    expect(answer.headers.get('retry-after')).toBeNull();
    const body = (await answer.json()) as { message: string };
    expect(body).toMatchObject({
      statusCode: 409,
      dataset,
      datasetState: 'degraded',
      parameter: 'allowPartial',
      unreadable: [
        {
          key: victim.object_key,
          state: 'missing',
          sourceTopic: topic,
          partition: victim.source_partition,
          fromOffset: victim.first_offset,
          toOffset: victim.last_offset,
        },
      ],
    });
    expect(body.message).toContain(victim.object_key);
    expect(body.message).not.toMatch(/unavailable/i);
    // the read recorded it: the next query is refused before any download, and the listing says so
    expect((await files()).find((f) => f.object_key === victim.object_key)?.state).toBe('missing');
    const listing = (await (await authorizedFetch(`${service.baseUrl}/v1/datasets/${dataset}`)).json()) as {
      integrity: unknown;
    };
    expect(listing.integrity).toMatchObject({ state: 'degraded', missingFiles: 1 });
  });

  it('with allowPartial=true returns the readable rows and lists the unreadable file', async () => {
    const inVictim = (r: { kafka_partition: number; kafka_offset: string }) =>
      r.kafka_partition === victim.source_partition &&
      BigInt(r.kafka_offset) >= BigInt(victim.first_offset) &&
      BigInt(r.kafka_offset) <= BigInt(victim.last_offset);
    const expected = all.filter((r) => !inVictim(r));

    const json = await rows('&allowPartial=true');
    expect(json.status).toBe(200);
    expect(json.headers.get('x-tributary-unreadable-files')).toBe('1');
    expect(json.headers.get('x-tributary-unreadable-ranges')).toBe(
      `${topic}[${victim.source_partition}]:${victim.first_offset}-${victim.last_offset}=missing`,
    );
    const body = (await json.json()) as { rows: unknown; unreadable: unknown };
    expect(body.rows).toEqual(expected);
    expect(body.unreadable).toEqual([expect.objectContaining({ key: victim.object_key, state: 'missing' })]);

    const ndjson = await rows('&allowPartial=true', 'ndjson');
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers.get('x-tributary-unreadable-files')).toBe('1');
    expect((await ndjson.text()).trim().split('\n')).toHaveLength(expected.length);

    const complete = await authorizedFetch(
      `${service.baseUrl}/v1/datasets/${dataset}/rows?from=${FROM}&to=2026-01-01T00:30:00Z&allowPartial=true`,
    );
    expect(complete.headers.get('x-tributary-unreadable-files')).toBe('0');
    expect(await complete.json()).toEqual({ rows: [], unreadable: [] });
  });

  const orphanKey = `${dataset}/date=2026-01-01/hour=01/not-catalogued.parquet`;
  let corrupted: FileRow;

  async function post(path: string, body: unknown = {}): Promise<Response> {
    return authorizedFetch(`${service.baseUrl}/v1/datasets/${dataset}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  it('verification reports the missing object, an orphan under the prefix and an object overwritten with other bytes', async () => {
    corrupted = (await files()).find((f) => f.object_key !== victim.object_key) as FileRow;
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: orphanKey, Body: Buffer.from('not a catalogued file') }),
    );
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: corrupted.object_key, Body: Buffer.from('other bytes') }),
    );

    const answer = await post('verify');
    expect(answer.status).toBe(200);
    const report = (await answer.json()) as {
      counts: Record<string, number>;
      missing: { key: string }[];
      corrupt: { key: string; detail: string }[];
      orphaned: { key: string }[];
    };
    expect(report.counts).toEqual({ missing: 1, corrupt: 1, orphaned: 1 });
    expect(report.missing.map((f) => f.key)).toEqual([victim.object_key]);
    expect(report.corrupt.map((f) => f.key)).toEqual([corrupted.object_key]);
    expect(report.orphaned.map((o) => o.key)).toEqual([orphanKey]);

    const integrity = (await (
      await authorizedFetch(`${service.baseUrl}/v1/datasets/${dataset}/integrity`)
    ).json()) as {
      unreadable: { key: string; state: string }[];
      orphaned: { key: string }[];
    };
    expect(integrity.unreadable.map((f) => [f.key, f.state]).sort()).toEqual(
      [
        [victim.object_key, 'missing'],
        [corrupted.object_key, 'corrupt'],
      ].sort(),
    );
    expect(integrity.orphaned.map((o) => o.key)).toEqual([orphanKey]);
    expect(await metricValue(service.baseUrl, 'tributary_archive_files_missing')).toBe(1);
    expect(await metricValue(service.baseUrl, 'tributary_archive_files_corrupt')).toBe(1);
    expect(await metricValue(service.baseUrl, 'tributary_archive_files_orphaned')).toBe(1);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: orphanKey }));
  });

  it('repair archives the missing and the corrupt file again from Kafka, checksum verified, and the query answers fully', async () => {
    const answer = await post('repair');
    expect(answer.status).toBe(200);
    const report = (await answer.json()) as {
      repaired: { key: string; rows: number }[];
      lost: unknown[];
      failed: unknown[];
    };
    expect(report.failed).toEqual([]);
    expect(report.lost).toEqual([]);
    expect(report.repaired.map((f) => f.key).sort()).toEqual(
      [victim.object_key, corrupted.object_key].sort(),
    );

    for (const file of await files()) {
      expect(file.state).toBe('ok');
      const bytes = await objectBytes(file.object_key);
      expect(Number(file.byte_size)).toBe(bytes.length);
      expect(file.checksum_sha256).toBe(createHash('sha256').update(bytes).digest('base64'));
    }
    const complete = await rows();
    expect(complete.status).toBe(200);
    expect(await complete.json()).toEqual(all);
    const verified = (await (await post('verify', { deep: true })).json()) as {
      counts: Record<string, number>;
    };
    expect(verified.counts).toEqual({ missing: 0, corrupt: 0, orphaned: 0 });
  });

  it('a missing file whose records Kafka no longer has is marked lost and shown as a gap of the dataset', async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: victim.object_key }));
    await admin.deleteRecordsBefore(topic, victim.source_partition, BigInt(victim.last_offset) + 1n);
    await post('verify');
    const report = (await (await post('repair')).json()) as {
      lost: { key: string; reason: string }[];
      repaired: unknown[];
    };
    expect(report.repaired).toEqual([]);
    expect(report.lost).toEqual([
      expect.objectContaining({
        key: victim.object_key,
        fromOffset: victim.first_offset,
        toOffset: victim.last_offset,
      }),
    ]);

    const listing = (await (await authorizedFetch(`${service.baseUrl}/v1/datasets`)).json()) as {
      datasets: {
        name: string;
        integrity: { state: string; lostFiles: number };
        gaps: Record<string, unknown>[];
      }[];
    };
    const entry = listing.datasets.find((d) => d.name === dataset);
    expect(entry?.integrity).toMatchObject({ state: 'degraded', lostFiles: 1 });
    expect(entry?.gaps).toEqual([
      expect.objectContaining({
        sourceTopic: topic,
        partition: victim.source_partition,
        fromOffset: victim.first_offset,
        toOffset: victim.last_offset,
        reason: expect.stringContaining('Kafka retains'),
      }),
    ]);
    const refused = await rows();
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { unreadable: unknown[] }).unreadable).toEqual([
      expect.objectContaining({ key: victim.object_key, state: 'lost' }),
    ]);
  });
});
