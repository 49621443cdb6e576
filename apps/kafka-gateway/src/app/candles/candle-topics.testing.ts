import { randomBytes } from 'node:crypto';
import { type Admin, Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import pino, { type Logger } from 'pino';
import { decodeHeaders, registerCompressionCodecs } from '@tributary/kafka';
import { eventually, readInfraEnv } from '@tributary/testing';

// Candles and findings are zstd, trades lz4: the test's own clients read them too.
registerCompressionCodecs();

/** Helpers of the candle and quality integration tests: own topics, raw reads and writes. */
export function uniqueTopicPrefix(what: string): string {
  return `it-${what}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export function testKafka(): Kafka {
  const brokers = (process.env['KAFKA_BROKERS'] ?? readInfraEnv()['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
  return new Kafka({ clientId: 'gateway-it', brokers, logLevel: logLevel.NOTHING });
}

export function quietLogger(): Logger {
  return pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
}

export interface ReadRecord {
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
  readonly partition: number;
  readonly offset: string;
}

/** Topics created for one test file and deleted afterwards. */
export class OwnTopics {
  private readonly admin: Admin;
  private readonly created: string[] = [];

  constructor(kafka: Kafka) {
    this.admin = kafka.admin();
  }

  async create(topics: readonly { topic: string; partitions?: number }[]): Promise<void> {
    await this.admin.connect();
    await this.admin.createTopics({
      topics: topics.map(({ topic, partitions }) => ({ topic, numPartitions: partitions ?? 1 })),
      waitForLeaders: true,
    });
    this.created.push(...topics.map(({ topic }) => topic));
  }

  async committed(groupId: string, topic: string): Promise<{ partition: number; offset: string; metadata: string | null }[]> {
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return entry.partitions;
  }

  async cleanup(): Promise<void> {
    const existing = new Set(await this.admin.listTopics());
    const topics = this.created.filter((topic) => existing.has(topic));
    if (topics.length > 0) await this.admin.deleteTopics({ topics }).catch(() => undefined);
    await this.admin.disconnect();
  }
}

/**
 * Every record of `topic` from its start, once `done(records)` holds, plus whatever arrives in the
 * `settleMs` after (so a test also sees records that should not be there).
 */
export async function readUntil(
  kafka: Kafka,
  topic: string,
  done: (records: readonly ReadRecord[]) => boolean,
  what: string,
  settleMs = 1500,
): Promise<ReadRecord[]> {
  const consumer = kafka.consumer({ groupId: uniqueTopicPrefix('reader'), allowAutoTopicCreation: false, maxWaitTimeInMs: 200 });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
        records.push({
          key: message.key === null ? null : message.key.toString(),
          value: message.value === null ? null : message.value.toString(),
          headers: decodeHeaders(message.headers),
          partition,
          offset: message.offset,
        });
      },
    });
    await eventually(() => done(records), 60_000, what);
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return [...records];
  } finally {
    await consumer.disconnect();
  }
}
