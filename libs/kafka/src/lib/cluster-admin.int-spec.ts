import { randomUUID } from 'node:crypto';
import { Admin } from '@platformatic/kafka';
import { CATALOG, kafkaTopicConfig, type TopicSpec } from '@tributary/contracts';
import { eventually } from '@tributary/testing';
import { quietLogger, testConnection } from '../testing/kafka-test-kit';
import { ClusterAdmin } from './cluster-admin';
import { TypedProducer } from './producer/typed-producer';

describe('ClusterAdmin against the real broker', () => {
  const run = `it-admin-${randomUUID().slice(0, 8)}`;
  const connection = testConnection({}, run);
  const admin = new ClusterAdmin(connection);
  const created: string[] = [];

  afterAll(async () => {
    const cleanup = new Admin({ clientId: `${run}-cleanup`, bootstrapBrokers: [...connection.brokers] });
    if (created.length > 0) await cleanup.deleteTopics({ topics: created }).catch(() => undefined);
    await cleanup.close();
    await admin.close();
  });

  it('creates missing catalog topics with their partitions and configs, led at once; concurrent calls and repeats count them as existing', async () => {
    const spec: TopicSpec = { ...CATALOG['market.trades'], topic: `${run}-trades` };
    created.push(spec.topic);
    const other = new ClusterAdmin(connection);
    try {
      const [first, second] = await Promise.all([admin.ensure([spec]), other.ensure([spec])]);
      expect([...first.created, ...second.created]).toEqual([spec.topic]);
      expect([...first.existing, ...second.existing]).toEqual([spec.topic]);
    } finally {
      await other.close();
    }
    expect(await admin.partitionCount(spec.topic)).toBe(spec.partitions);
    const inspect = new Admin({ clientId: `${run}-inspect`, bootstrapBrokers: [...connection.brokers] });
    try {
      const [described] = await inspect.describeConfigs({ resources: [{ resourceType: 2, resourceName: spec.topic }] });
      const actual = Object.fromEntries((described?.configs ?? []).map((config) => [config.name, config.value]));
      for (const { name, value } of kafkaTopicConfig(spec)) expect([name, actual[name]]).toEqual([name, value]);
    } finally {
      await inspect.close();
    }
    expect(await admin.ensure([spec])).toEqual({ created: [], existing: [spec.topic] });
    // led: a produce right after creation is taken at once
    const offsets = await admin.topicOffsets(spec.topic);
    expect(offsets).toHaveLength(spec.partitions);
    expect(offsets.every(({ low, high }) => low === '0' && high === '0')).toBe(true);
  });

  it('names the cluster and each topic by ID, and a topic created again under its name gets a new ID', async () => {
    const spec: TopicSpec = { ...CATALOG['market.trades'], topic: `${run}-identity`, partitions: 1 };
    created.push(spec.topic);
    await admin.ensure([spec]);
    const first = await admin.identity([spec.topic, `${run}-absent`]);
    expect(first.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(first.topicIds.get(spec.topic)).toMatch(/^[0-9a-f-]{36}$/);
    expect(first.topicIds.has(`${run}-absent`)).toBe(false);

    await admin.deleteTopics([spec.topic]);
    await eventually(async () => !(await admin.listTopics()).includes(spec.topic), `${spec.topic} deleted`);
    await eventually(async () => (await admin.ensure([spec])).created.length === 1, `${spec.topic} created again`);
    const second = await admin.identity([spec.topic]);
    expect(second.clusterId).toBe(first.clusterId);
    expect(second.topicIds.get(spec.topic)).not.toBe(first.topicIds.get(spec.topic));
  });

  it('reports each partition\'s first and next offsets, and DeleteRecords moves the first', async () => {
    const topic = `${run}-offsets`;
    created.push(topic);
    await admin.ensureConfigs([{ topic, numPartitions: 2, replicationFactor: 1 }]);
    const producer = new TypedProducer(connection, { service: 'kafka-it', instanceId: run, logger: quietLogger() });
    try {
      await producer.sendRaw(topic, Array.from({ length: 5 }, (_, index) => ({ value: `v${index}`, partition: 1 })));
    } finally {
      await producer.disconnect();
    }
    expect(await admin.topicOffsets(topic)).toEqual([
      { partition: 0, low: '0', high: '0' },
      { partition: 1, low: '0', high: '5' },
    ]);
    expect(await admin.deleteRecordsBefore(topic, 1, 3n)).toBe(3n);
    expect((await admin.topicOffsets(topic))[1]).toEqual({ partition: 1, low: '3', high: '5' });
  });

  it('sets a group\'s offsets without joining it and reads them back; deleted groups and topics are gone', async () => {
    const topic = `${run}-group`;
    const groupId = `${run}-group`;
    created.push(topic);
    await admin.ensureConfigs([{ topic, numPartitions: 3, replicationFactor: 1 }]);
    expect(await admin.committedOffsets(groupId, [topic])).toEqual(new Map());

    await admin.commitOffsets(groupId, new Map([[topic, new Map([[0, 4n], [2, 9n]])]]));
    expect(await admin.committedOffsets(groupId, [topic])).toEqual(new Map([[topic, new Map([[0, 4n], [2, 9n]])]]));

    await admin.deleteGroups([groupId]);
    expect(await admin.committedOffsets(groupId, [topic])).toEqual(new Map());
    await admin.deleteTopics([topic, `${run}-never-created`]);
    expect(await admin.listTopics()).not.toContain(topic);
  });
});
