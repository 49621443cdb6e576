import { randomUUID } from 'node:crypto';
import { HEADERS } from '@tributary/contracts';
import { ClusterAdmin, type KafkaConnection, TypedProducer } from '@tributary/kafka';
import { readInfraEnv } from '@tributary/testing';
import { lastEventTimeMs } from './last-event-time';

describe('the latest event time already published', () => {
  const connection: KafkaConnection = {
    clientId: 'collector-resume-it',
    brokers: readInfraEnv()['KAFKA_BROKERS'].split(','),
    connectionTimeoutMs: 5_000,
    requestTimeoutMs: 30_000,
  };
  const admin = new ClusterAdmin(connection);
  const topic = `collector-resume-${randomUUID()}`;

  beforeAll(async () => {
    await admin.ensureConfigs([{ topic, numPartitions: 3 }]);
  });

  afterAll(async () => {
    await admin.deleteTopics([topic]).catch(() => undefined);
    await admin.close();
  });

  it('is undefined for an empty topic', async () => {
    expect(await lastEventTimeMs(connection, topic, 'options-collector/')).toBeUndefined();
  });

  it('is the highest event.time the collector wrote at the end of each partition, in milliseconds; other writers do not count', async () => {
    // Headers written as given: these records pose as several writers, the test's own name is on none of them.
    const producer = new TypedProducer(connection, { service: 'collector-resume-it', lingerMs: 0, validate: false });
    const by = (writer: string, ms: number) => ({
      [HEADERS.eventTime]: `${ms}123456`,
      [HEADERS.producer]: writer,
    });
    try {
      await producer.sendRaw(topic, [
        { partition: 0, value: '{}', headers: by('options-collector/pod-a', 1_741_012_200_000) },
        { partition: 0, value: '{}', headers: by('options-collector/pod-a', 1_741_012_260_000) },
        { partition: 1, value: '{}', headers: by('options-collector/pod-b', 1_741_012_290_500) },
        // Posted through the gateway with a current time: not the simulator's clock.
        { partition: 2, value: '{}', headers: by('kafka-gateway/pod-c', 1_795_513_371_000) },
      ]);
    } finally {
      await producer.disconnect();
    }
    expect(await lastEventTimeMs(connection, topic, 'options-collector/')).toBe(1_741_012_290_500);
  });
});
