import { randomBytes } from 'node:crypto';
import { type Admin, Kafka, type KafkaMessage, logLevel } from 'kafkajs';
import pino, { type Logger } from 'pino';
import {
  createTopicsWithLeaders,
  decodeHeaders,
  type KafkaConnection,
  kafkaConnection,
  parseKafkaEnv,
  registerCompressionCodecs,
} from '@tributary/kafka';
import { eventually, readInfraEnv } from '@tributary/testing';

// Candles and findings are zstd, trades lz4: the test's own clients read them too.
registerCompressionCodecs();

/** Helpers of the candle and quality integration tests: own topics, raw reads and writes. */
export function uniqueTopicPrefix(what: string): string {
  return `it-${what}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

function testBrokers(): string {
  return process.env['KAFKA_BROKERS'] ?? readInfraEnv()['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
}

export function testKafka(): Kafka {
  return new Kafka({ clientId: 'gateway-it', brokers: testBrokers().split(','), logLevel: logLevel.NOTHING });
}

/** The same broker as {@link testKafka}, as the typed producer connects to it. */
export function testConnection(): KafkaConnection {
  return kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: testBrokers() }), 'gateway-it');
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
    await createTopicsWithLeaders(this.admin, {
      topics: topics.map(({ topic, partitions }) => ({ topic, numPartitions: partitions ?? 1 })),
    });
    this.created.push(...topics.map(({ topic }) => topic));
  }

  async committed(
    groupId: string,
    topic: string,
  ): Promise<{ partition: number; offset: string; metadata: string | null }[]> {
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return entry.partitions;
  }

  /** The end offset of each partition of `topic` as it stands now. */
  async ends(topic: string): Promise<{ partition: number; high: string }[]> {
    return (await this.admin.fetchTopicOffsets(topic)).map(({ partition, high }) => ({ partition, high }));
  }

  /** Waits until `groupId` has committed every record written to `topic` so far. */
  async waitUntilConsumed(groupId: string, topic: string): Promise<void> {
    const ends = await this.ends(topic);
    await eventually(async () => {
      const committed = await this.committed(groupId, topic);
      return ends.every(
        ({ partition, high }) =>
          high === '0' || committed.find((entry) => entry.partition === partition)?.offset === high,
      );
    }, `${groupId} to commit every record written to ${topic}`);
  }

  async cleanup(): Promise<void> {
    const existing = new Set(await this.admin.listTopics());
    const topics = this.created.filter((topic) => existing.has(topic));
    if (topics.length > 0) await this.admin.deleteTopics({ topics }).catch(() => undefined);
    await this.admin.disconnect();
  }
}

/** What a reader has of a topic so far: the records it keeps, and how far it got in each partition. */
interface Reading {
  readonly records: ReadRecord[];
  readonly lastOffsets: Map<number, bigint>;
}

/**
 * Reads `topic` from its start (or, per partition, from the offsets in `from`), keeping the records
 * `keep` accepts, until `done` holds.
 */
async function readFromStart(
  kafka: Kafka,
  topic: string,
  done: (reading: Reading) => boolean,
  what: string,
  keep: (record: ReadRecord) => boolean = () => true,
  from?: ReadonlyMap<number, bigint>,
): Promise<ReadRecord[]> {
  const consumer = kafka.consumer({
    groupId: uniqueTopicPrefix('reader'),
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 200,
  });
  const reading: Reading = { records: [], lastOffsets: new Map() };
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
        const record: ReadRecord = {
          key: message.key === null ? null : message.key.toString(),
          value: message.value === null ? null : message.value.toString(),
          headers: decodeHeaders(message.headers),
          partition,
          offset: message.offset,
        };
        if (keep(record)) reading.records.push(record);
        reading.lastOffsets.set(partition, BigInt(message.offset));
      },
    });
    for (const [partition, offset] of from ?? []) consumer.seek({ topic, partition, offset: String(offset) });
    await eventually(() => done(reading), what);
    return [...reading.records];
  } finally {
    await consumer.disconnect();
  }
}

/** Every record of `topic` from its start, once `done(records)` holds. */
export function readUntil(
  kafka: Kafka,
  topic: string,
  done: (records: readonly ReadRecord[]) => boolean,
  what: string,
): Promise<ReadRecord[]> {
  return readFromStart(kafka, topic, (reading) => done(reading.records), what);
}

/**
 * The records of `topic` that `keep` accepts (all by default), up to its end as it stands when called:
 * once what writes to it has finished (its input committed, its sends acknowledged), this is all it
 * wrote, including any record that should not be there.
 */
export async function readAll(
  kafka: Kafka,
  topic: string,
  keep?: (record: ReadRecord) => boolean,
  since?: ReadonlyMap<number, bigint>,
): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const lastOffsets = ends
    .filter(({ partition, low, high }) => BigInt(high) > (since?.get(partition) ?? BigInt(low)))
    .map(({ partition, high }) => ({ partition, last: BigInt(high) - 1n }));
  return readFromStart(
    kafka,
    topic,
    (reading) =>
      lastOffsets.every(({ partition, last }) => (reading.lastOffsets.get(partition) ?? -1n) >= last),
    `every record of ${topic} up to offsets ${ends.map(({ partition, high }) => `${partition}:${high}`).join(', ')}`,
    keep,
    since,
  );
}

/**
 * The end offset of every partition of `topic` now: pass it to {@link readAll} as `since` to read
 * only what is written afterwards (a shared catalog topic may hold millions of older records).
 */
export async function topicEnds(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  return new Map(ends.map(({ partition, high }) => [partition, BigInt(high)]));
}
