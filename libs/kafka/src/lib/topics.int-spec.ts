import { CATALOG, kafkaTopicConfig, type TopicSpec } from '@tributary/contracts';
import { ConfigResourceTypes } from 'kafkajs';
import { testKafka, uniqueName } from '../testing/kafka-test-kit';
import { ensureTopics, TopicAdmin } from './topics';

describe('ensureTopics against the real broker', () => {
  const kafka = testKafka();
  const admin = kafka.admin();
  const created: string[] = [];

  beforeAll(() => admin.connect());

  afterAll(async () => {
    await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  });

  it('creates missing catalog topics with their partitions, retention, cleanup policy and compression, and calling it again, even concurrently, changes nothing', async () => {
    const specs: TopicSpec[] = [
      { ...CATALOG['market.trades'], topic: uniqueName('it-ensure-trades') },
      { ...CATALOG['candles.1m'], topic: uniqueName('it-ensure-candles') },
    ];
    created.push(...specs.map((spec) => spec.topic));

    const results = await Promise.all([
      ensureTopics(kafka, specs, { replicationFactor: 1 }),
      ensureTopics(kafka, specs, { replicationFactor: 1 }),
    ]);
    const createdOnce = results.flatMap((result) => result.created).sort();
    expect(createdOnce).toEqual(specs.map((spec) => spec.topic).sort());
    for (const result of results) {
      expect([...result.created, ...result.existing].sort()).toEqual(specs.map((spec) => spec.topic).sort());
    }

    const metadata = await admin.fetchTopicMetadata({ topics: specs.map((spec) => spec.topic) });
    for (const spec of specs) {
      const topic = metadata.topics.find((entry) => entry.name === spec.topic);
      expect(topic?.partitions).toHaveLength(spec.partitions);
    }
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: specs.map((spec) => ({ type: ConfigResourceTypes.TOPIC, name: spec.topic })),
    });
    for (const spec of specs) {
      const entries = described.resources.find((resource) => resource.resourceName === spec.topic)?.configEntries ?? [];
      for (const { name, value } of kafkaTopicConfig(spec)) {
        expect({ name, value: entries.find((entry) => entry.configName === name)?.configValue }).toEqual({ name, value });
      }
    }

    const again = await new TopicAdmin(admin).ensure(specs);
    expect(again.created).toEqual([]);
  });
});
