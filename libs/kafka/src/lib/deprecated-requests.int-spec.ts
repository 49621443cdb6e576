import { randomUUID } from 'node:crypto';
import { eventually, runKafkaTool } from '@tributary/testing';
import { quietLogger, testConnection } from '../testing/kafka-test-kit';
import { LedTopics } from '../testing/led-topics';
import { ManagedConsumer } from './consumer/managed-consumer';
import { TopicReader } from './consumer/topic-reader';
import { TypedProducer } from './producer/typed-producer';
import { createMissingTopics } from './topics';

/** The broker's request counters whose MBean names match `pattern`, as `name -> count`. */
async function brokerCounters(pattern: string): Promise<Map<string, number>> {
  const url = process.env['KAFKA_JMX_URL'];
  if (!url) throw new Error('KAFKA_JMX_URL is not set: start the broker with tools/infra/up (it opens JMX on the loopback)');
  const ask = runKafkaTool('org.apache.kafka.tools.JmxTool', [
    '--jmx-url',
    url,
    '--object-name',
    pattern,
    '--one-time',
    'true',
    '--attributes',
    'Count',
    '--report-format',
    'tsv',
  ]);
  // No such MBean (nothing counted yet): the tool says so and exits with an error.
  const output = await ask.catch((error: unknown) => {
    if (String((error as Error).message).includes('No matched attributes')) return '';
    throw error;
  });
  const counters = new Map<string, number>();
  for (const line of output.split('\n')) {
    const match = /^(kafka\.network:[^\t]+):Count\t(\d+)$/.exec(line.trim());
    if (match) counters.set(match[1] as string, Number(match[2]));
  }
  return counters;
}

describe("the broker's view of Tributary's Kafka clients", () => {
  const run = `it-versions-${randomUUID().slice(0, 8)}`;
  const topics = new LedTopics(run);

  afterAll(async () => {
    await topics.cleanup();
  });

  it('producing, consuming in a group, committing and reading without a group use no request version the broker counts as deprecated', async () => {
    const topic = await topics.create('traffic', 3);
    const connection = testConnection({}, run);
    await createMissingTopics(connection, [{ topic: `${topic}.dlq`, numPartitions: 1, replicationFactor: 1 }]);
    const producer = new TypedProducer(connection, { service: 'kafka-it', instanceId: run, logger: quietLogger() });
    await producer.sendRaw(topic, Array.from({ length: 30 }, (_, index) => ({ key: `k${index}`, value: `v${index}` })));

    let consumed = 0;
    const consumer = new ManagedConsumer(connection, {
      groupId: `${run}-group`,
      topics: [topic],
      handle: async ({ records }) => void (consumed += records.length),
    });
    let read = 0;
    const reader = new TopicReader(connection, { topics: [topic], handle: ({ records }) => void (read += records.length) });
    try {
      await consumer.start();
      await reader.start();
      await eventually(() => consumed === 30 && read === 30, 'every record through the group and without one');
      await consumer.committed(consumer.assignment);
    } finally {
      await consumer.stop();
      await reader.stop();
      await producer.disconnect();
    }

    // The counters are real: our fetches and group requests are among them, at the versions we send.
    const fetches = await brokerCounters('kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Fetch,*');
    expect(fetches.get('kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Fetch,version=17')).toBeGreaterThan(0);
    const joins = await brokerCounters('kafka.network:type=RequestMetrics,name=RequestsPerSec,request=JoinGroup,*');
    expect(joins.get('kafka.network:type=RequestMetrics,name=RequestsPerSec,request=JoinGroup,version=9')).toBeGreaterThan(0);

    const deprecated = await brokerCounters('kafka.network:type=RequestMetrics,name=DeprecatedRequestsPerSec,*');
    const ours = [...deprecated].filter(([name, count]) => count > 0 && name.includes('clientSoftwareName=platformatic-kafka'));
    expect(ours).toEqual([]);
  }, 180_000);
});
