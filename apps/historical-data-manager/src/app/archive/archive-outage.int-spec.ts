import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ClusterAdmin, kafkaConnection, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createS3Client } from '@tributary/observability';
import { authorizedFetch, eventually, readInfraEnv, TcpProxy } from '@tributary/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { type RunningApp, startTestApp, testConfig } from '../../testing/archive-app';
import { datasetOfTopic } from './archive-layout';
import { TopicArchiveService } from './topic-archive.service';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const bucket = 'tributary-test';

function trades(prefix: string, from: number, count: number) {
  const t0 = 1_767_229_199_000_000_007n;
  return Array.from({ length: count }, (_, j) => {
    const i = from + j;
    return {
      symbol: ['AAPL', 'SPY', 'QQQ'][i % 3] as string,
      price: 100 + i / 100,
      size: 1 + (i % 50),
      exchange: 'Q',
      tradeId: `${prefix}${i}`,
      conditions: [],
      ts: (t0 + BigInt(i) * 1_000_003n).toString(),
    };
  });
}

describe('archive while S3 or PostgreSQL is away (a real network failure in front of the real servers)', () => {
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'] }), `hdm-outage-it-${run}`);
  const admin = new ClusterAdmin(connection);
  // Idempotent, acks=all, keys placed as the Java client places them.
  const producer = new TypedProducer(connection, { service: `hdm-outage-it-${run}`, validate: false });
  const s3 = createS3Client(testConfig({}));
  let catalog: DataSource;
  let dir: string;
  const topics: string[] = [];
  const groups: string[] = [];
  const schemas: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hdm-outage-it-'));
    await producer.connect();
    catalog = await new DataSource({
      type: 'postgres',
      url: infraEnv['DATABASE_URL'] as string,
    }).initialize();
  });

  afterAll(async () => {
    await producer.disconnect();
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics(topics.flatMap((t) => [t, `${t}.dlq`])).catch(() => undefined);
    await admin.close();
    for (const topic of topics) {
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: `${datasetOfTopic(topic)}/` }),
      );
      const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
    for (const schema of schemas) await catalog?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await catalog?.destroy();
    s3.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A topic, its catalog schema, and the service archiving it with `overrides`; failing records would reach the DLQ within a second. */
  async function scenario(name: string, overrides: (schema: string) => Record<string, string>) {
    const topic = `hdm.outage.${name}.${run}`;
    const schema = `hdm_outage_${name}_${run}`;
    const groupId = `hdm-outage-${name}-${run}`;
    topics.push(topic);
    groups.push(groupId);
    schemas.push(schema);
    await admin.ensureConfigs([{ topic, numPartitions: 2 }]);
    const service = await startTestApp(
      testConfig({
        KAFKA_GROUP_ID: groupId,
        ARCHIVE_TOPICS: `${topic}:market.trades`,
        ARCHIVE_CATALOG_SCHEMA: schema,
        ARCHIVE_FLUSH_AGE_MS: '200ms',
        KAFKA_HANDLER_MAX_ATTEMPTS: '2',
        KAFKA_HANDLER_RETRY_BASE_MS: '50ms',
        HISTORY_CACHE_DIR: join(dir, name),
        ...overrides(schema),
      }),
    );
    const produce = async (from: number, count: number) =>
      producer.sendRaw(
        topic,
        trades(name, from, count).map((t) => ({
          key: t.symbol,
          value: JSON.stringify(t),
          headers: { 'event.time': t.ts },
        })),
      );
    const archivedRows = async (): Promise<number> => {
      const rows: { n: string }[] = await catalog
        .query(`SELECT coalesce(sum(row_count), 0)::text AS n FROM "${schema}".files`)
        .catch(() => [{ n: '0' }]);
      return Number(rows[0]?.n ?? 0);
    };
    // Records in the DLQ; 0 while it does not exist yet (the consumer creates it as it starts).
    const deadLettered = async () => {
      if (!(await admin.listTopics()).includes(`${topic}.dlq`)) return 0;
      return (await admin.topicOffsets(`${topic}.dlq`)).reduce((sum, p) => sum + Number(p.high), 0);
    };
    return { topic, schema, service, produce, archivedRows, deadLettered };
  }

  /**
   * Waits until the archive has failed to flush four times during the outage, with its backoff between
   * tries: by then the consumer, had it not paused, would long have retried a failing record (two
   * attempts, 50 ms apart) and dead-lettered it.
   */
  async function outageOutlastsConsumerRetries(archive: TopicArchiveService): Promise<void> {
    await eventually(
      () => (archive.currentOutage()?.attempts ?? 0) >= 4,
      'four failed flushes during the outage',
    );
  }

  async function readiness(
    service: RunningApp,
  ): Promise<{ status: number; body: Record<string, Record<string, Record<string, unknown>>> }> {
    const response = await authorizedFetch(`${service.baseUrl}/health/ready`);
    return {
      status: response.status,
      body: (await response.json()) as Record<string, Record<string, Record<string, unknown>>>,
    };
  }

  async function exactlyOnce(schema: string, expected: number): Promise<void> {
    const [row] = (await catalog.query(
      `SELECT sum(row_count)::int AS rows, (SELECT sum(next_offset)::int FROM "${schema}".archived_offsets) AS next
         FROM "${schema}".files`,
    )) as { rows: number; next: number }[];
    expect(row?.rows).toBe(expected);
    expect(row?.next).toBe(expected); // offsets 0..n-1 of both partitions, each in one file
  }

  it('S3 away: consumption pauses, nothing goes to the DLQ, readiness names s3; when it is back every record is archived once', async () => {
    const proxy = new TcpProxy('127.0.0.1', Number(new URL(infraEnv['S3_ENDPOINT'] as string).port));
    const port = await proxy.open();
    const { schema, service, produce, archivedRows, deadLettered } = await scenario('s3', () => ({
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
    }));
    try {
      await produce(0, 100);
      await eventually(async () => (await archivedRows()) === 100, 'the first 100 archived');

      await proxy.cut();
      await produce(100, 100);
      const archive = service.app.get(TopicArchiveService);
      await eventually(() => archive.currentOutage()?.dependency === 's3', 'the archive waiting for S3');
      expect(archive.consumptionPaused).toBe(true);
      const down = await readiness(service);
      expect(down.status).toBe(503);
      expect(down.body['details']?.['archive']).toMatchObject({
        status: 'down',
        waitingFor: 's3',
        consumptionPaused: true,
      });
      expect(down.body['details']?.['s3']).toMatchObject({ status: 'down' });
      await outageOutlastsConsumerRetries(archive);
      expect(await archivedRows()).toBe(100);
      expect(await deadLettered()).toBe(0);
      expect(archive.bufferedRowCount()).toBeLessThanOrEqual(100); // held, bounded: no more fetched while paused

      await proxy.open();
      await eventually(
        async () => (await archivedRows()) === 200,
        'the held 100 archived after S3 came back',
      );
      await eventually(async () => (await readiness(service)).status === 200, 'ready again');
      expect(archive.consumptionPaused).toBe(false);
      await produce(200, 50);
      await eventually(async () => (await archivedRows()) === 250, 'consumption resumed');
      expect(await deadLettered()).toBe(0);
      await exactlyOnce(schema, 250);
    } finally {
      await service.close();
      await proxy.cut();
    }
  });

  it('PostgreSQL away: the same, and readiness names postgres', async () => {
    const proxy = new TcpProxy('127.0.0.1', Number(new URL(infraEnv['DATABASE_URL'] as string).port || 5432));
    const port = await proxy.open();
    const url = new URL(infraEnv['DATABASE_URL'] as string);
    url.port = String(port);
    const { schema, service, produce, archivedRows, deadLettered } = await scenario('pg', () => ({
      DATABASE_URL: url.toString(),
    }));
    try {
      await produce(0, 100);
      await eventually(async () => (await archivedRows()) === 100, 'the first 100 archived');

      await proxy.cut();
      await produce(100, 100);
      const archive = service.app.get(TopicArchiveService);
      await eventually(
        () => archive.currentOutage()?.dependency === 'postgres',
        'the archive waiting for PostgreSQL',
      );
      const down = await readiness(service);
      expect(down.status).toBe(503);
      expect(down.body['details']?.['archive']).toMatchObject({
        status: 'down',
        waitingFor: 'postgres',
        consumptionPaused: true,
      });
      expect(down.body['details']?.['postgres']).toMatchObject({ status: 'down' });
      await outageOutlastsConsumerRetries(archive);
      expect(await archivedRows()).toBe(100);
      expect(await deadLettered()).toBe(0);

      await proxy.open();
      await eventually(
        async () => (await archivedRows()) === 200,
        'the held 100 archived after PostgreSQL came back',
      );
      await eventually(async () => (await readiness(service)).status === 200, 'ready again');
      expect(await deadLettered()).toBe(0);
      await exactlyOnce(schema, 200);
    } finally {
      await service.close();
      await proxy.cut();
    }
  });
});
