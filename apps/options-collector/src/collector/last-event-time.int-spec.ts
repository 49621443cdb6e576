import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { HEADERS } from '@tributary/contracts';
import { readInfraEnv } from '@tributary/testing';
import { lastEventTimeMs } from './last-event-time';
import { createTopicsWithLeaders } from '@tributary/kafka';

describe('the latest event time already published', () => {
  const kafka = new Kafka({
    brokers: readInfraEnv()['KAFKA_BROKERS'].split(','),
    logLevel: logLevel.NOTHING,
  });
  const connection = {
    clientId: 'collector-resume-it',
    brokers: readInfraEnv()['KAFKA_BROKERS'].split(','),
    connectionTimeoutMs: 5_000,
    requestTimeoutMs: 30_000,
  };
  const admin = kafka.admin();
  const topic = `collector-resume-${randomUUID()}`;

  beforeAll(async () => {
    await admin.connect();
    await createTopicsWithLeaders(admin, { topics: [{ topic, numPartitions: 3 }] });
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('is undefined for an empty topic', async () => {
    expect(await lastEventTimeMs(connection, topic, 'options-collector/')).toBeUndefined();
  });

  it('is the highest event.time the collector wrote at the end of each partition, in milliseconds; other writers do not count', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const by = (writer: string, ms: number) => ({
      [HEADERS.eventTime]: `${ms}123456`,
      [HEADERS.producer]: writer,
    });
    await producer.send({
      topic,
      messages: [
        { partition: 0, value: '{}', headers: by('options-collector/pod-a', 1_741_012_200_000) },
        { partition: 0, value: '{}', headers: by('options-collector/pod-a', 1_741_012_260_000) },
        { partition: 1, value: '{}', headers: by('options-collector/pod-b', 1_741_012_290_500) },
        // Posted through the gateway with a current time: not the simulator's clock.
        { partition: 2, value: '{}', headers: by('kafka-gateway/pod-c', 1_795_513_371_000) },
      ],
    });
    await producer.disconnect();
    expect(await lastEventTimeMs(connection, topic, 'options-collector/')).toBe(1_741_012_290_500);
  });
});
