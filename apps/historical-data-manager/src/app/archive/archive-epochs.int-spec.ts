import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ClusterAdmin, kafkaConnection, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createS3Client } from '@tributary/observability';
import { authorizedFetch, eventually, readInfraEnv } from '@tributary/testing';
import { DataSource } from 'typeorm';
import { type RunningApp, startTestApp, testConfig } from '../../testing/archive-app';
import { tradeRecords } from '../../testing/trade-records';
import { datasetOfTopic } from './archive-layout';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const bucket = 'tributary-test';
const recreated = `hdm.epochs.it.${run}.recreated`;
const steady = `hdm.epochs.it.${run}.steady`;
const restored = `hdm.epochs.it.${run}.restored`;
const upgraded = `hdm.epochs.it.${run}.upgraded`;
const topics = [recreated, steady, restored, upgraded];
const schemas = [`hdm_epochs_it_${run}_a`, `hdm_epochs_it_${run}_b`, `hdm_epochs_it_${run}_c`];
const groups: string[] = [];

interface ArchiveHealth {
  awaitingDecision?: {
    dataset: string;
    reason: string;
    message: string;
    stored: { kafkaClusterId: string | null; kafkaTopicId: string | null };
    current: { kafkaClusterId: string | null; kafkaTopicId: string | null };
  }[];
}


describe('archived offsets carry the identity of the Kafka cluster and topic they came from', () => {
  const connection = kafkaConnection(
    parseKafkaEnv({ KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'] }),
    `hdm-epochs-it-${run}`,
  );
  const admin = new ClusterAdmin(connection);
  const producer = new TypedProducer(connection, { service: `hdm-epochs-it-${run}`, validate: false });
  let catalog: DataSource;
  let s3: S3Client;
  const apps: RunningApp[] = [];

  beforeAll(async () => {
    await admin.ensureConfigs(topics.map((topic) => ({ topic, numPartitions: 2 })));
    await producer.connect();
    catalog = await new DataSource({
      type: 'postgres',
      url: infraEnv['DATABASE_URL'] as string,
    }).initialize();
    s3 = createS3Client(testConfig({}));
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await producer.disconnect();
    await admin.deleteGroups(groups).catch(() => undefined);
    await admin.deleteTopics(topics.flatMap((t) => [t, `${t}.dlq`])).catch(() => undefined);
    await admin.close();
    for (const topic of topics) {
      for (;;) {
        const listed = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: `${datasetOfTopic(topic)}/` }),
        );
        const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
        if (keys.length === 0) break;
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
      }
    }
    for (const schema of schemas) await catalog?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await catalog?.destroy();
    s3?.destroy();
  });

  async function start(schema: string, archived: string[], groupId: string): Promise<RunningApp> {
    groups.push(groupId);
    const app = await startTestApp(
      testConfig({
        ARCHIVE_TOPICS: archived.map((t) => `${t}:market.trades`).join(','),
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

  async function archivedRows(schema: string, topic: string, epoch?: number): Promise<number> {
    const [row] = (await catalog
      .query(
        `SELECT coalesce(sum(row_count), 0)::text AS rows FROM "${schema}".files WHERE source_topic = $1 AND ($2::int IS NULL OR epoch = $2)`,
        [topic, epoch ?? null],
      )
      .catch(() => [{ rows: '0' }])) as { rows: string }[];
    return Number(row?.rows ?? 0);
  }

  async function archiveHealth(app: RunningApp): Promise<ArchiveHealth> {
    const body = (await (await fetch(`${app.baseUrl}/health/ready`)).json()) as {
      details?: { archive?: ArchiveHealth };
    };
    return body.details?.archive ?? {};
  }

  it('a topic deleted and created again stops with both topic IDs on readiness while other topics archive on; a new epoch archives the new log from offset 0 into new files, and queries read both epochs', async () => {
    const schema = schemas[0] as string;
    const app = await start(schema, [recreated, steady], `hdm-epochs-it-${run}-a`);
    await producer.sendRaw(recreated, tradeRecords(0, 50));
    await producer.sendRaw(steady, tradeRecords(0, 40));
    await eventually(
      async () =>
        (await archivedRows(schema, recreated)) === 50 && (await archivedRows(schema, steady)) === 40,
      60_000,
      'the first records archived',
    );
    const oldTopicId = (await admin.identity([recreated])).topicIds.get(recreated) as string;

    await admin.deleteTopics([recreated]);
    await eventually(
      async () => !(await admin.listTopics()).includes(recreated),
      60_000,
      `${recreated} deleted`,
    );
    await eventually(
      async () => (await admin.ensureConfigs([{ topic: recreated, numPartitions: 2 }])).created.length === 1,
      60_000,
      `${recreated} created again`,
    );
    const newTopicId = (await admin.identity([recreated])).topicIds.get(recreated) as string;
    expect(newTopicId).not.toBe(oldTopicId);
    await producer.sendRaw(recreated, tradeRecords(1000, 30));
    await producer.sendRaw(steady, tradeRecords(40, 20));

    const dataset = datasetOfTopic(recreated);
    const waiting = await eventually(
      async () => (await archiveHealth(app)).awaitingDecision?.find((w) => w.dataset === dataset),
      90_000,
      'readiness names the re-created topic',
    );
    expect(waiting).toMatchObject({
      reason: 'topic-recreated',
      stored: { kafkaTopicId: oldTopicId },
      current: { kafkaTopicId: newTopicId },
    });
    expect(waiting?.message).toContain(oldTopicId);
    expect(waiting?.message).toContain(newTopicId);
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(
        `tributary_archive_identity_mismatch\\{[^}]*stored_topic_id="${oldTopicId}"[^}]*current_topic_id="${newTopicId}"[^}]*\\} 1`,
      ),
    );
    // the other topic keeps archiving; nothing of the new log went into the old epoch
    await eventually(
      async () => (await archivedRows(schema, steady)) === 60,
      60_000,
      'the steady topic archived on',
    );
    expect(await archivedRows(schema, recreated)).toBe(50);
    const listed = (await (await authorizedFetch(`${app.baseUrl}/v1/datasets/${dataset}`)).json()) as {
      archive: { state: string; reason: string };
    };
    expect(listed.archive).toMatchObject({ state: 'awaiting-decision', reason: 'topic-recreated' });

    const decided = await authorizedFetch(`${app.baseUrl}/v1/datasets/${dataset}/epochs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'new-epoch' }),
    });
    expect(decided.status).toBe(200);
    expect(await decided.json()).toMatchObject({ state: 'archiving', epoch: 2 });

    await eventually(
      async () => (await archivedRows(schema, recreated, 2)) === 30,
      60_000,
      'the new log archived in epoch 2',
    );
    expect(await archivedRows(schema, recreated, 1)).toBe(50);
    const files = (await catalog.query(
      `SELECT object_key, first_offset::int AS first, kafka_topic_id FROM "${schema}".files WHERE source_topic = $1 AND epoch = 2`,
      [recreated],
    )) as { object_key: string; first: number; kafka_topic_id: string }[];
    expect(files.every((f) => f.object_key.endsWith('.e2.parquet') && f.kafka_topic_id === newTopicId)).toBe(
      true,
    );
    expect(Math.min(...files.map((f) => f.first))).toBe(0);
    expect((await archiveHealth(app)).awaitingDecision ?? []).toEqual([]);

    const rows = (await (
      await authorizedFetch(
        `${app.baseUrl}/v1/datasets/${dataset}/rows?from=2026-01-01T01:00:00Z&to=2026-01-01T02:00:00Z&columns=tradeId`,
      )
    ).json()) as { tradeId: string }[];
    expect(rows.map((r) => r.tradeId).sort()).toEqual(
      [...tradeRecords(0, 50), ...tradeRecords(1000, 30)]
        .map((t) => (JSON.parse(t.value) as { tradeId: string }).tradeId)
        .sort(),
    );
    const described = (await (await authorizedFetch(`${app.baseUrl}/v1/datasets/${dataset}`)).json()) as {
      archive: { state: string; epoch: number };
      epochs: { epoch: number; kafkaTopicId: string; partitions: { nextOffset: string }[] }[];
    };
    expect(described.archive).toMatchObject({ state: 'archiving', epoch: 2 });
    expect(described.epochs.map((e) => [e.epoch, e.kafkaTopicId])).toEqual([
      [1, oldTopicId],
      [2, newTopicId],
    ]);

    // no decision is pending any more: a second click is refused
    const again = await authorizedFetch(`${app.baseUrl}/v1/datasets/${dataset}/epochs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ action: 'new-epoch' }),
    });
    expect(again.status).toBe(409);
  }, 300_000);

  it("a catalog restored with another cluster's ID is refused; re-attaching to the identity named in the request resumes where it stopped, archiving nothing twice", async () => {
    const schema = schemas[1] as string;
    const groupId = `hdm-epochs-it-${run}-b`;
    const first = await start(schema, [restored], groupId);
    await producer.sendRaw(restored, tradeRecords(0, 40));
    await eventually(
      async () => (await archivedRows(schema, restored)) === 40,
      60_000,
      'the first records archived',
    );
    await first.close();
    apps.splice(apps.indexOf(first), 1);

    // what a catalog restored from a backup of another cluster's archive looks like
    const otherCluster = 'QkFDS1VQLUNMVVNURVItMQ';
    for (const table of ['topic_epochs', 'archived_offsets']) {
      await catalog.query(`UPDATE "${schema}".${table} SET kafka_cluster_id = $1 WHERE source_topic = $2`, [
        otherCluster,
        restored,
      ]);
    }
    const current = await admin.identity([restored]);
    const app = await start(schema, [restored], groupId);
    await producer.sendRaw(restored, tradeRecords(40, 10));
    const dataset = datasetOfTopic(restored);
    const waiting = await eventually(
      async () => (await archiveHealth(app)).awaitingDecision?.find((w) => w.dataset === dataset),
      90_000,
      'readiness names the other cluster',
    );
    expect(waiting).toMatchObject({
      reason: 'cluster-changed',
      stored: { kafkaClusterId: otherCluster },
      current: { kafkaClusterId: current.clusterId, kafkaTopicId: current.topicIds.get(restored) },
    });
    expect(await archivedRows(schema, restored)).toBe(40);

    const decide = (body: unknown) =>
      authorizedFetch(`${app.baseUrl}/v1/datasets/${dataset}/epochs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    // a stale screen naming yet another identity re-attaches nothing
    const stale = await decide({
      action: 'reattach',
      kafkaClusterId: otherCluster,
      kafkaTopicId: current.topicIds.get(restored),
    });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { message: string }).message).toContain(current.clusterId);
    expect((await decide({ action: 'reattach' })).status).toBe(400);

    const attached = await decide({
      action: 'reattach',
      kafkaClusterId: current.clusterId,
      kafkaTopicId: current.topicIds.get(restored),
    });
    expect(attached.status).toBe(200);
    expect(await attached.json()).toMatchObject({ state: 'archiving', epoch: 1 });
    await eventually(
      async () => (await archivedRows(schema, restored)) === 50,
      60_000,
      'archiving resumed where it stopped',
    );
    const [offsets] = (await catalog.query(
      `SELECT count(*)::int AS files, count(DISTINCT epoch)::int AS epochs, sum(last_offset - first_offset + 1)::int AS offsets FROM "${schema}".files WHERE source_topic = $1`,
      [restored],
    )) as { files: number; epochs: number; offsets: number }[];
    expect(offsets).toMatchObject({ epochs: 1, offsets: 50 });
    const [epoch] = (await catalog.query(
      `SELECT kafka_cluster_id FROM "${schema}".topic_epochs WHERE source_topic = $1`,
      [restored],
    )) as {
      kafka_cluster_id: string;
    }[];
    expect(epoch?.kafka_cluster_id).toBe(current.clusterId);
  }, 300_000);
  it("a catalog made before identities were recorded adopts the cluster's when its positions fit the log, and is refused when they lie beyond its end (the second checkout of the report)", async () => {
    const schema = schemas[2] as string;
    const groupId = `hdm-epochs-it-${run}-c`;
    const dataset = datasetOfTopic(upgraded);
    const first = await start(schema, [upgraded], groupId);
    await producer.sendRaw(upgraded, tradeRecords(0, 30));
    await eventually(
      async () => (await archivedRows(schema, upgraded)) === 30,
      60_000,
      'the first records archived',
    );
    await first.close();
    apps.splice(apps.indexOf(first), 1);
    // what the migration leaves of a catalog written before this change: epoch 1 without identity
    for (const table of ['topic_epochs', 'archived_offsets', 'files']) {
      await catalog.query(
        `UPDATE "${schema}".${table} SET kafka_cluster_id = NULL, kafka_topic_id = NULL WHERE source_topic = $1`,
        [upgraded],
      );
    }
    const current = await admin.identity([upgraded]);
    const second = await start(schema, [upgraded], groupId);
    await producer.sendRaw(upgraded, tradeRecords(30, 10));
    await eventually(
      async () => (await archivedRows(schema, upgraded)) === 40,
      60_000,
      'archiving went on after the upgrade',
    );
    expect((await archiveHealth(second)).awaitingDecision ?? []).toEqual([]);
    const [adopted] = (await catalog.query(
      `SELECT kafka_cluster_id, kafka_topic_id FROM "${schema}".topic_epochs WHERE source_topic = $1`,
      [upgraded],
    )) as {
      kafka_cluster_id: string;
      kafka_topic_id: string;
    }[];
    expect(adopted).toEqual({
      kafka_cluster_id: current.clusterId,
      kafka_topic_id: current.topicIds.get(upgraded),
    });
    const [files] = (await catalog.query(
      `SELECT count(*) FILTER (WHERE kafka_cluster_id IS NULL)::int AS unnamed FROM "${schema}".files WHERE source_topic = $1`,
      [upgraded],
    )) as {
      unnamed: number;
    }[];
    expect(files?.unnamed).toBe(0);
    await second.close();
    apps.splice(apps.indexOf(second), 1);

    // the report: positions of another cluster's log (7210) without identity, against a log of 40 records
    for (const table of ['topic_epochs', 'archived_offsets']) {
      await catalog.query(
        `UPDATE "${schema}".${table} SET kafka_cluster_id = NULL, kafka_topic_id = NULL WHERE source_topic = $1`,
        [upgraded],
      );
    }
    await catalog.query(
      `UPDATE "${schema}".archived_offsets SET next_offset = 7210 WHERE source_topic = $1`,
      [upgraded],
    );
    const third = await start(schema, [upgraded], groupId);
    const waiting = await eventually(
      async () => (await archiveHealth(third)).awaitingDecision?.find((w) => w.dataset === dataset),
      90_000,
      'readiness names the positions beyond the log',
    );
    expect(waiting).toMatchObject({
      reason: 'ahead-of-log-end',
      stored: { kafkaClusterId: null },
      current: { kafkaClusterId: current.clusterId },
    });
    expect(waiting?.message).toContain('7210');
  }, 300_000);
});
