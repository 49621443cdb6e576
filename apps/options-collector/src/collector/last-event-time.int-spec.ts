import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { HEADERS } from '@tributary/contracts';
import { readInfraEnv } from '@tributary/testing';
import { lastEventTimeMs } from './last-event-time';

describe('the latest event time already published', () => {
  const kafka = new Kafka({ brokers: readInfraEnv()['KAFKA_BROKERS'].split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const topic = `collector-resume-${randomUUID()}`;

  beforeAll(async () => {
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('is undefined for an empty topic', async () => {
    expect(await lastEventTimeMs(kafka, topic)).toBeUndefined();
  });

  it('is the highest event.time among the last record of every partition, in milliseconds', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const at = (ms: number) => ({ [HEADERS.eventTime]: `${ms}123456` });
    await producer.send({
      topic,
      messages: [
        { partition: 0, value: '{}', headers: at(1_741_012_200_000) },
        { partition: 0, value: '{}', headers: at(1_741_012_260_000) },
        { partition: 1, value: '{}', headers: at(1_741_012_290_500) },
        // Older records further back in a partition do not count; only its last one.
        { partition: 2, value: '{}', headers: at(1_741_012_999_000) },
        { partition: 2, value: '{}', headers: at(1_741_012_100_000) },
      ],
    });
    await producer.disconnect();
    expect(await lastEventTimeMs(kafka, topic)).toBe(1_741_012_290_500);
  });
});
