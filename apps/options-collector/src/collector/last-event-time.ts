import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { HEADERS } from '@tributary/contracts';
import { fetchTopicOffsetsOnceLed, headerValue } from '@tributary/kafka';

/** Records read back from the end of each partition to find the latest of a producer's. */
const TAIL = 200n;

/**
 * The highest `event.time` (epoch ms) among the last `TAIL` records of every partition of `topic`
 * written by a producer whose `producer` header starts with `producerPrefix` (other writers of the
 * topic do not count), or undefined when there is none. Reads with a throwaway consumer group that
 * never commits.
 */
export async function lastEventTimeMs(kafka: Kafka, topic: string, producerPrefix: string, timeoutMs = 15_000): Promise<number | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  let offsets: { partition: number; low: string; high: string }[];
  try {
    offsets = (await fetchTopicOffsetsOnceLed(admin, topic)).filter(({ low, high }) => BigInt(high) > BigInt(low));
  } finally {
    await admin.disconnect();
  }
  if (offsets.length === 0) return undefined;

  const lastOffsets = new Map(offsets.map(({ partition, high }) => [partition, BigInt(high) - 1n]));
  const fromOffsets = new Map(offsets.map(({ partition, low, high }) => [partition, BigInt(high) - TAIL > BigInt(low) ? BigInt(high) - TAIL : BigInt(low)]));
  const consumer = kafka.consumer({ groupId: `tributary-options-collector-resume-${randomUUID()}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
  let latest: bigint | undefined;
  const seen = new Set<number>();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const timer = setTimeout(() => finish(), timeoutMs);
  const consider = (partition: number, message: KafkaMessage) => {
    const offset = BigInt(message.offset);
    if (offset < (fromOffsets.get(partition) ?? 0n)) return;
    const eventTime = headerValue(message.headers, HEADERS.eventTime);
    const producer = headerValue(message.headers, HEADERS.producer) ?? '';
    if (producer.startsWith(producerPrefix) && eventTime !== undefined && /^\d+$/.test(eventTime)) {
      const ns = BigInt(eventTime);
      if (latest === undefined || ns > latest) latest = ns;
    }
    if (offset >= (lastOffsets.get(partition) ?? 0n)) seen.add(partition);
    if (seen.size === lastOffsets.size) finish();
  };
  await consumer.connect();
  try {
    const joined = new Promise<void>((resolve) => {
      const stop = consumer.on(consumer.events.GROUP_JOIN, () => {
        stop();
        resolve();
      });
    });
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) consider(batch.partition, message);
      },
    });
    await joined;
    for (const [partition, offset] of fromOffsets) consumer.seek({ topic, partition, offset: String(offset) });
    await finished;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return latest === undefined ? undefined : Number(latest / 1_000_000n);
}
