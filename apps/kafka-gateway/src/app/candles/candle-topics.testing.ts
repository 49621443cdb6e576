import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import {
  ClusterAdmin,
  decodeHeaders,
  type KafkaConnection,
  kafkaConnection,
  ManagedConsumer,
  parseKafkaEnv,
  TopicReader,
  TypedProducer,
} from '@tributary/kafka';
import { eventually, readInfraEnv } from '@tributary/testing';

/**
 * Kafka helpers of the gateway's integration tests (candles, quality, ingestion, DLQ, streaming): own
 * topics, committed offsets, and raw reads and writes that go around the code under test.
 */
export function uniqueTopicPrefix(what: string): string {
  return `it-${what}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

function testBrokers(): string {
  return process.env['KAFKA_BROKERS'] ?? readInfraEnv()['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
}

/** The local plaintext listener, as the gateway's own clients connect to it. */
export function testConnection(): KafkaConnection {
  return kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: testBrokers() }), 'gateway-it');
}

export function quietLogger(): Logger {
  return pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'warn' }, pino.destination(2));
}

/**
 * A producer that writes records exactly as given (`sendRaw`): no catalog schema check, no contract
 * headers, a record's explicit partition kept, a key placed as the Java client places it. It resolves
 * once the brokers have the records (acks=all).
 */
export function rawProducer(connection: KafkaConnection = testConnection()): TypedProducer {
  return new TypedProducer(connection, { service: 'gateway-it', lingerMs: 0, validate: false, logger: quietLogger() });
}

export interface ReadRecord {
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
  readonly partition: number;
  readonly offset: string;
}

/** A group's commit of one partition, with the metadata committed beside the offset. */
export interface CommittedEntry {
  readonly partition: number;
  readonly offset: string;
  readonly metadata: string | null;
}

/** Topics created for one test file and deleted afterwards. */
export class OwnTopics {
  /** The admin client of the topics, for the test's own questions (offsets, groups). */
  readonly admin: ClusterAdmin;
  private readonly created: string[] = [];

  constructor(private readonly connection: KafkaConnection = testConnection()) {
    this.admin = new ClusterAdmin(connection);
  }

  /** Creates the topics and resolves once every partition has a leader. */
  async create(topics: readonly { topic: string; partitions?: number }[]): Promise<void> {
    await this.admin.ensureConfigs(topics.map(({ topic, partitions }) => ({ topic, numPartitions: partitions ?? 1 })));
    this.created.push(...topics.map(({ topic }) => topic));
  }

  /**
   * What `groupId` committed for each partition of `topic`, with the commit's metadata (partitions
   * without a commit are left out). The admin client answers offsets only; the metadata (where the
   * candle stream keeps its checkpoint) is read by a consumer of the group that never joins it.
   */
  async committed(groupId: string, topic: string): Promise<CommittedEntry[]> {
    const partitions = Array.from({ length: await this.admin.partitionCount(topic) }, (_, partition) => partition);
    const group = new ManagedConsumer(this.connection, { groupId, topics: [topic], handle: async () => undefined, logger: quietLogger() });
    try {
      const entries: CommittedEntry[] = [];
      for (const [key, { offset, metadata }] of await group.committed(new Map([[topic, partitions]]))) {
        // keyed `topic:partition`
        if (offset !== undefined) entries.push({ partition: Number(key.slice(key.lastIndexOf(':') + 1)), offset: offset.toString(), metadata });
      }
      return entries.sort((a, b) => a.partition - b.partition);
    } finally {
      await group.stop();
    }
  }

  /** The end offset of each partition of `topic` as it stands now. */
  async ends(topic: string): Promise<{ partition: number; high: string }[]> {
    return (await this.admin.topicOffsets(topic)).map(({ partition, high }) => ({ partition, high }));
  }

  /** Waits until `groupId` has committed every record written to `topic` so far. */
  async waitUntilConsumed(groupId: string, topic: string): Promise<void> {
    const ends = await this.ends(topic);
    await eventually(async () => {
      const committed = (await this.admin.committedOffsets(groupId, [topic])).get(topic);
      return ends.every(({ partition, high }) => high === '0' || committed?.get(partition) === BigInt(high));
    }, `${groupId} to commit every record written to ${topic}`);
  }

  async cleanup(): Promise<void> {
    if (this.created.length > 0) await this.admin.deleteTopics(this.created).catch(() => undefined);
    await this.admin.close();
  }
}

/** What a reader has of a topic so far: the records it keeps, and how far it got in each partition. */
interface Reading {
  readonly records: ReadRecord[];
  readonly lastOffsets: Map<number, bigint>;
}

/**
 * Reads `topic` from its start (or, per partition, from the offsets in `from`) without a consumer
 * group, keeping the records `keep` accepts, until `done` holds. A topic the gateway created moments
 * ago may not be known to the broker yet: the reader starts once it is.
 */
async function readFromStart(
  connection: KafkaConnection,
  topic: string,
  done: (reading: Reading) => boolean,
  what: string,
  keep: (record: ReadRecord) => boolean = () => true,
  from?: ReadonlyMap<number, bigint>,
): Promise<ReadRecord[]> {
  const reading: Reading = { records: [], lastOffsets: new Map() };
  const reader = await eventually(async () => {
    const candidate = new TopicReader(connection, {
      topics: [topic],
      from: from === undefined ? 'earliest' : (_topic, partition) => from.get(partition),
      maxWaitMs: 200,
      handle: ({ partition, records }) => {
        for (const fetched of records) {
          const record: ReadRecord = {
            key: fetched.key === null ? null : fetched.key.toString(),
            value: fetched.value === null ? null : fetched.value.toString(),
            headers: decodeHeaders(fetched.headers),
            partition,
            offset: fetched.offset.toString(),
          };
          if (keep(record)) reading.records.push(record);
          reading.lastOffsets.set(partition, fetched.offset);
        }
      },
      logger: quietLogger(),
    });
    try {
      await candidate.start();
      return candidate;
    } catch (error) {
      await candidate.stop();
      throw error;
    }
  }, `the partitions of ${topic} to read`);
  try {
    await eventually(() => done(reading), what);
    return [...reading.records];
  } finally {
    await reader.stop();
  }
}

/**
 * The records of `topic` from its start (or, per partition, from the offsets in `since`, see
 * {@link topicEnds}) that `keep` accepts (all by default), once `done(records)` holds for them.
 */
export function readUntil(
  connection: KafkaConnection,
  topic: string,
  done: (records: readonly ReadRecord[]) => boolean,
  what: string,
  keep?: (record: ReadRecord) => boolean,
  since?: ReadonlyMap<number, bigint>,
): Promise<ReadRecord[]> {
  return readFromStart(connection, topic, (reading) => done(reading.records), what, keep, since);
}

/**
 * The records of `topic` that `keep` accepts (all by default), up to its end as it stands when called:
 * once what writes to it has finished (its input committed, its sends acknowledged), this is all it
 * wrote, including any record that should not be there.
 */
export async function readAll(
  connection: KafkaConnection,
  topic: string,
  keep?: (record: ReadRecord) => boolean,
  since?: ReadonlyMap<number, bigint>,
): Promise<ReadRecord[]> {
  const admin = new ClusterAdmin(connection);
  const ends = await admin.topicOffsets(topic).finally(() => admin.close());
  const lastOffsets = ends
    .filter(({ partition, low, high }) => BigInt(high) > (since?.get(partition) ?? BigInt(low)))
    .map(({ partition, high }) => ({ partition, last: BigInt(high) - 1n }));
  return readFromStart(
    connection,
    topic,
    (reading) =>
      lastOffsets.every(({ partition, last }) => (reading.lastOffsets.get(partition) ?? -1n) >= last),
    `every record of ${topic} up to offsets ${ends.map(({ partition, high }) => `${partition}:${high}`).join(', ')}`,
    keep,
    since,
  );
}

/**
 * The end offset of every partition of `topic` now: pass it to {@link readAll} or {@link readUntil}
 * as `since` to read only what is written afterwards (a shared catalog topic may hold millions of older records).
 */
export async function topicEnds(connection: KafkaConnection, topic: string): Promise<Map<number, bigint>> {
  const admin = new ClusterAdmin(connection);
  const ends = await admin.topicOffsets(topic).finally(() => admin.close());
  return new Map(ends.map(({ partition, high }) => [partition, BigInt(high)]));
}
