import { HEADERS } from '@tributary/contracts';
import { ClusterAdmin, type FetchedRecord, headerValue, type KafkaConnection, TopicReader } from '@tributary/kafka';

/** Records read back from the end of each partition to find the latest of a producer's. */
const TAIL = 200n;

/**
 * The highest `event.time` (epoch ms) among the last `TAIL` records of every partition of `topic`
 * written by a producer whose `producer` header starts with `producerPrefix` (other writers of the
 * topic do not count), or undefined when there is none. Reads the partitions without a consumer
 * group, committing nothing.
 */
export async function lastEventTimeMs(
  connection: KafkaConnection,
  topic: string,
  producerPrefix: string,
  timeoutMs = 15_000,
): Promise<number | undefined> {
  const admin = new ClusterAdmin(connection);
  let all: { partition: number; low: string; high: string }[];
  try {
    all = await admin.topicOffsets(topic);
  } finally {
    await admin.close();
  }
  const ends = new Map(all.map(({ partition, high }) => [partition, BigInt(high)]));
  const offsets = all.filter(({ low, high }) => BigInt(high) > BigInt(low));
  if (offsets.length === 0) return undefined;

  const lastOffsets = new Map(offsets.map(({ partition, high }) => [partition, BigInt(high) - 1n]));
  const fromOffsets = new Map(offsets.map(({ partition, low, high }) => [partition, BigInt(high) - TAIL > BigInt(low) ? BigInt(high) - TAIL : BigInt(low)]));
  let latest: bigint | undefined;
  const seen = new Set<number>();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const timer = setTimeout(() => finish(), timeoutMs);
  const consider = (partition: number, record: FetchedRecord) => {
    if (!lastOffsets.has(partition)) return;
    const eventTime = headerValue(record.headers, HEADERS.eventTime);
    const producer = headerValue(record.headers, HEADERS.producer) ?? '';
    if (producer.startsWith(producerPrefix) && eventTime !== undefined && /^\d+$/.test(eventTime)) {
      const ns = BigInt(eventTime);
      if (latest === undefined || ns > latest) latest = ns;
    }
    if (record.offset >= (lastOffsets.get(partition) ?? 0n)) seen.add(partition);
    if (seen.size === lastOffsets.size) finish();
  };
  const reader = new TopicReader(connection, {
    topics: [topic],
    // partitions without records are not read: they start at their end
    from: (_, partition) => fromOffsets.get(partition) ?? ends.get(partition),
    handle: ({ partition, records }) => {
      for (const record of records) consider(partition, record);
    },
  });
  try {
    await reader.start();
    await finished;
  } finally {
    clearTimeout(timer);
    await reader.stop();
  }
  return latest === undefined ? undefined : Number(latest / 1_000_000n);
}
