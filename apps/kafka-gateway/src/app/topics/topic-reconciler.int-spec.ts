import { randomUUID } from 'node:crypto';
import { CATALOG, type TopicSpec } from '@tributary/contracts';
import { readInfraEnv } from '@tributary/testing';
import { TopicReconciler } from './topic-reconciler';
import { ClusterAdmin, type KafkaConnection } from '@tributary/kafka';

/** Catalog-shaped specs under names of this run only, so the shared broker's topics are never touched. */
function specsOfThisRun(): TopicSpec[] {
  const run = `gateway-reconcile-${randomUUID().slice(0, 8)}`;
  return [
    {
      ...CATALOG['options.quotes'],
      topic: `${run}.quotes`,
      partitions: 3,
      retentionMs: 3_600_000,
      compression: 'lz4',
    },
    {
      ...CATALOG['options.quotes'],
      topic: `${run}.candles`,
      partitions: 2,
      cleanupPolicy: 'compact',
      compression: 'zstd',
    },
  ];
}

/** Every config of the topic with the value in force, as the broker describes it. */
async function topicConfig(admin: ClusterAdmin, topic: string): Promise<Record<string, string>> {
  const described = (await admin.describeTopics([topic])).get(topic);
  if (described === undefined) throw new Error(`${topic} does not exist`);
  return Object.fromEntries(described.configs);
}

describe('topic catalog applied to the cluster', () => {
  // The reconciler's client, and a client of the test's own that sets topics up and checks what the
  // broker has (so nothing the reconciler remembers answers for the cluster).
  let cluster: ClusterAdmin;
  let admin: ClusterAdmin;
  let specs: TopicSpec[];

  beforeAll(() => {
    const connection: KafkaConnection = {
      clientId: 'gateway-reconcile-it',
      brokers: readInfraEnv()['KAFKA_BROKERS'].split(','),
      connectionTimeoutMs: 5_000,
      requestTimeoutMs: 30_000,
    };
    cluster = new ClusterAdmin(connection);
    admin = new ClusterAdmin(connection);
  });

  beforeEach(() => {
    specs = specsOfThisRun();
  });

  afterEach(async () => {
    await admin.deleteTopics(specs.map((spec) => spec.topic)).catch(() => undefined);
  });

  afterAll(async () => {
    await cluster.close();
    await admin.close();
  });

  it('reports topics missing from the cluster, then creates them with the catalog partitions and configs', async () => {
    const reconciler = new TopicReconciler(cluster, specs);
    const before = await reconciler.drift();
    expect(before.inSync).toBe(false);
    expect(before.topics.map((topic) => [topic.topic, topic.missing])).toEqual(
      specs.map((spec) => [spec.topic, true]),
    );

    const applied = await reconciler.apply();
    expect(applied.created.sort()).toEqual(specs.map((spec) => spec.topic).sort());
    expect(applied.after.inSync).toBe(true);

    expect(await admin.partitionCount(specs[0].topic)).toBe(3);
    expect(await topicConfig(admin, specs[1].topic)).toMatchObject({
      'cleanup.policy': 'compact',
      'compression.type': 'zstd',
    });
  });

  it('reports and repairs partitions below the catalog and configs changed by hand, keeping other topic overrides', async () => {
    const [quotes] = specs;
    await admin.ensureConfigs([
      {
        topic: quotes.topic,
        numPartitions: 1,
        configEntries: [
          { name: 'retention.ms', value: '60000' },
          { name: 'compression.type', value: 'gzip' },
          { name: 'max.message.bytes', value: '2000000' },
        ],
      },
    ]);
    const reconciler = new TopicReconciler(cluster, [quotes]);

    const drift = (await reconciler.drift()).topics[0];
    expect(drift.missing).toBe(false);
    expect(drift.partitions).toEqual({ catalog: 3, cluster: 1 });
    expect(drift.configs).toEqual(
      expect.arrayContaining([
        { name: 'retention.ms', catalog: '3600000', cluster: '60000' },
        { name: 'compression.type', catalog: 'lz4', cluster: 'gzip' },
      ]),
    );

    const applied = await reconciler.apply();
    expect(applied.partitionsIncreased).toEqual([{ topic: quotes.topic, from: 1, to: 3 }]);
    expect(applied.configsAligned.map((aligned) => aligned.topic)).toEqual([quotes.topic]);
    expect(applied.after.inSync).toBe(true);
    expect(await topicConfig(admin, quotes.topic)).toMatchObject({
      'retention.ms': '3600000',
      'compression.type': 'lz4',
      'max.message.bytes': '2000000',
    });
  });

  it('never removes partitions: more partitions than the catalog are reported and left as they are', async () => {
    const [quotes] = specs;
    await admin.ensureConfigs([{ topic: quotes.topic, numPartitions: 5 }]);
    const reconciler = new TopicReconciler(cluster, [quotes]);

    const applied = await reconciler.apply();
    expect(applied.partitionsNotDecreased).toEqual([{ topic: quotes.topic, catalog: 3, cluster: 5 }]);
    expect(applied.after.topics[0].partitions).toEqual({ catalog: 3, cluster: 5 });
    expect(applied.after.topics[0].configs).toEqual([]);
    expect(applied.after.inSync).toBe(false);
  });

  it('changes nothing on a second apply', async () => {
    const reconciler = new TopicReconciler(cluster, specs);
    await reconciler.apply();
    const again = await reconciler.apply();
    expect(again).toMatchObject({
      created: [],
      partitionsIncreased: [],
      partitionsNotDecreased: [],
      configsAligned: [],
    });
  });
});
