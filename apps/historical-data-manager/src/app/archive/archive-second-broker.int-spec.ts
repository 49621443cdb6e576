import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ClusterAdmin, kafkaConnection, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createS3Client } from '@tributary/observability';
import { authorizedFetch, eventually, infraDir, readInfraEnv, workspaceRoot } from '@tributary/testing';
import { DataSource } from 'typeorm';
import { type RunningApp, startTestApp, testConfig } from '../../testing/archive-app';
import { tradeRecords } from '../../testing/trade-records';
import { datasetOfTopic } from './archive-layout';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const topic = `hdm.second.broker.it.${run}`;
const dataset = datasetOfTopic(topic);
const schema = `hdm_second_broker_it_${run}`;
const bucket = 'tributary-test';
/** The second broker's ports: five from here, clear of the stack's own (9092 and up). */
const SECOND_BROKER_PORT = '29192';

/** Runs the project's infra script for the second broker only, with its own state folder and ports. */
function secondBroker(command: 'up' | 'down', dir: string): void {
  execFileSync('bash', [join(workspaceRoot, 'tools/infra', command), 'kafka'], {
    cwd: workspaceRoot,
    env: { ...process.env, TRIBUTARY_INFRA_DIR: dir, TRIBUTARY_KAFKA_PORT: SECOND_BROKER_PORT },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 600_000,
  });
}

function brokersOf(dir: string): string {
  const line = readFileSync(join(dir, 'env'), 'utf8')
    .split('\n')
    .find((candidate) => candidate.startsWith('KAFKA_BROKERS='));
  if (line === undefined) throw new Error(`${dir}/env names no KAFKA_BROKERS`);
  return line.slice('KAFKA_BROKERS='.length).replace(/^['"]|['"]$/g, '');
}

interface Waiting {
  dataset: string;
  reason: string;
  stored: { kafkaClusterId: string | null };
  current: { kafkaClusterId: string | null };
}

describe('the archive pointed at a second Kafka cluster', () => {
  const secondDir = mkdtempSync(join(tmpdir(), 'tributary-second-broker-'));
  let catalog: DataSource;
  let s3: S3Client;
  const apps: RunningApp[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    // The Kafka jars the stack fetched already serve the second broker too.
    if (existsSync(join(infraDir(), 'cache')))
      symlinkSync(join(infraDir(), 'cache'), join(secondDir, 'cache'));
    secondBroker('up', secondDir);
    catalog = await new DataSource({
      type: 'postgres',
      url: infraEnv['DATABASE_URL'] as string,
    }).initialize();
    s3 = createS3Client(testConfig({}));
  }, 600_000);

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    try {
      secondBroker('down', secondDir);
    } finally {
      rmSync(secondDir, { recursive: true, force: true });
    }
    for (;;) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${dataset}/` }));
      const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (keys.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
    await catalog?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await catalog?.destroy();
    s3?.destroy();
  }, 600_000);

  /** A topic with trades on the cluster at `brokers`, and a way to remove it afterwards. */
  async function topicOn(brokers: string, records: ReturnType<typeof tradeRecords>): Promise<string> {
    const connection = kafkaConnection(
      parseKafkaEnv({ KAFKA_BROKERS: brokers }),
      `hdm-second-broker-it-${run}`,
    );
    const admin = new ClusterAdmin(connection);
    const producer = new TypedProducer(connection, {
      service: `hdm-second-broker-it-${run}`,
      validate: false,
    });
    await admin.ensureConfigs([{ topic, numPartitions: 2 }]);
    await producer.connect();
    await producer.sendRaw(topic, records);
    await producer.disconnect();
    const { clusterId } = await admin.identity();
    cleanups.push(async () => {
      await admin.deleteTopics([topic, `${topic}.dlq`]).catch(() => undefined);
      await admin.close();
    });
    return clusterId;
  }

  async function archive(brokers: string, groupId: string): Promise<RunningApp> {
    const app = await startTestApp(
      testConfig({
        KAFKA_BROKERS: brokers,
        ARCHIVE_TOPICS: `${topic}:market.trades`,
        ARCHIVE_CATALOG_SCHEMA: schema,
        KAFKA_GROUP_ID: groupId,
        ARCHIVE_FLUSH_ROWS: '200',
        ARCHIVE_FLUSH_AGE_MS: '300ms',
        ARCHIVE_COMPACTION_INTERVAL_MS: '0',
      }),
    );
    apps.push(app);
    return app;
  }

  async function archivedRows(epoch?: number): Promise<number> {
    const [row] = (await catalog
      .query(
        `SELECT coalesce(sum(row_count), 0)::text AS rows FROM "${schema}".files WHERE source_topic = $1 AND ($2::int IS NULL OR epoch = $2)`,
        [topic, epoch ?? null],
      )
      .catch(() => [{ rows: '0' }])) as { rows: string }[];
    return Number(row?.rows ?? 0);
  }

  it('refuses to take the first cluster’s offsets for the second one’s, names both cluster IDs, and archives the second cluster from offset 0 in a new epoch once told to', async () => {
    const firstBrokers = infraEnv['KAFKA_BROKERS'] as string;
    const secondBrokers = brokersOf(secondDir);
    const firstCluster = await topicOn(firstBrokers, tradeRecords(0, 60));
    const first = await archive(firstBrokers, `hdm-second-broker-it-${run}-a`);
    await eventually(
      async () => (await archivedRows()) === 60,
      90_000,
      'the first cluster’s trades archived',
    );
    await first.close();
    apps.splice(apps.indexOf(first), 1);

    // The second cluster's log starts at 0 again: its offsets 0-59 are not the ones archived.
    const secondCluster = await topicOn(secondBrokers, tradeRecords(1000, 25));
    expect(secondCluster).not.toBe(firstCluster);
    const second = await archive(secondBrokers, `hdm-second-broker-it-${run}-b`);
    const waiting = await eventually(
      async () => {
        const body = (await (await fetch(`${second.baseUrl}/health/ready`)).json()) as {
          details?: { archive?: { awaitingDecision?: Waiting[] } };
        };
        return body.details?.archive?.awaitingDecision?.find((entry) => entry.dataset === dataset);
      },
      90_000,
      'readiness names the dataset waiting for a decision',
    );
    expect(waiting).toMatchObject({
      stored: { kafkaClusterId: firstCluster },
      current: { kafkaClusterId: secondCluster },
    });
    expect(await archivedRows()).toBe(60);

    const decided = await authorizedFetch(`${second.baseUrl}/v1/datasets/${dataset}/epochs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'new-epoch' }),
    });
    expect(decided.status).toBe(200);
    await eventually(
      async () => (await archivedRows(2)) === 25,
      90_000,
      'the second cluster’s trades archived in epoch 2',
    );
    expect(await archivedRows(1)).toBe(60);

    const rows = await eventually(
      async () => {
        const answer = await authorizedFetch(
          `${second.baseUrl}/v1/datasets/${dataset}/rows?from=2026-01-01T00:00:00Z&to=2026-01-01T03:00:00Z&limit=1000`,
        );
        const body = (await answer.json()) as unknown[];
        return answer.status === 200 && body.length === 85 ? body : undefined;
      },
      60_000,
      'both clusters’ trades in one query',
    );
    expect(rows).toHaveLength(85);
  }, 600_000);
});
