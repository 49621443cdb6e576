import { HEADERS } from '@tributary/contracts';
import {
  type ClusterAdmin,
  type KafkaConnection,
  recordHeader,
  recordValueSize,
  TopicReader,
} from '@tributary/kafka';
import { runKafkaTool } from '@tributary/testing';
import type { Logger } from 'pino';

/** Records read back from the end of each partition to measure the collector's record sizes. */
const TAIL_RECORDS_PER_PARTITION = 300n;

export interface RecordSizes {
  /** Per topic: this run's records read and their mean value size, bytes. */
  readonly perTopic: Readonly<Record<string, { readonly records: number; readonly meanValueBytes: number }>>;
  /** Mean value size over the topics, each weighted by how many records the collector wrote to it. */
  readonly meanValueBytes: number;
}

/**
 * The mean value size of what the collector wrote, from its own records: the tail of each of its
 * topics is read back and the records of this run (its `producer` header) measured.
 */
export async function collectorRecordSizes(
  connection: KafkaConnection,
  admin: ClusterAdmin,
  producer: string,
  writtenPerTopic: Readonly<Record<string, number>>,
  logger: Logger,
): Promise<RecordSizes> {
  const perTopic: Record<string, { records: number; meanValueBytes: number }> = {};
  for (const topic of Object.keys(writtenPerTopic)) {
    const ends = new Map(
      (await admin.topicOffsets(topic)).map((entry) => [entry.partition, BigInt(entry.high)]),
    );
    let records = 0;
    let bytes = 0;
    const reader = new TopicReader(connection, {
      topics: [topic],
      from: (_topic, partition) => {
        const end = ends.get(partition) ?? 0n;
        return end > TAIL_RECORDS_PER_PARTITION ? end - TAIL_RECORDS_PER_PARTITION : 0n;
      },
      logger,
      handle: ({ records: batch }) => {
        for (const record of batch) {
          if (recordHeader(record, HEADERS.producer) !== producer) continue;
          records++;
          bytes += recordValueSize(record);
        }
      },
    });
    await reader.start();
    const deadline = Date.now() + 15_000;
    const readToEnd = () =>
      [...ends].every(([partition, end]) => (reader.position(topic, partition) ?? end) >= end);
    while (!readToEnd() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    await reader.stop();
    if (records > 0) perTopic[topic] = { records, meanValueBytes: Math.round(bytes / records) };
  }
  let weighted = 0;
  let weight = 0;
  for (const [topic, written] of Object.entries(writtenPerTopic)) {
    const size = perTopic[topic];
    if (!size || written <= 0) continue;
    weighted += size.meanValueBytes * written;
    weight += written;
  }
  return { perTopic, meanValueBytes: weight > 0 ? Math.round(weighted / weight) : 0 };
}

export interface JavaFigure {
  readonly recordsPerSecond: number;
  readonly mbPerSecond: number;
  /** ProducerPerformance's own latency percentiles of its sends, ms. */
  readonly latencyMs?: { readonly p50: number; readonly p95: number; readonly p99: number };
}

/** Kafka's ProducerPerformance: `records` values of `bytes` bytes, acks=all, idempotent, as fast as it can. */
export async function producerPerformance(
  brokers: string,
  topic: string,
  records: number,
  bytes: number,
  compression: string,
): Promise<JavaFigure> {
  const output = await runKafkaTool('org.apache.kafka.tools.ProducerPerformance', [
    '--topic',
    topic,
    '--num-records',
    String(records),
    '--record-size',
    String(bytes),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${brokers}`,
    'acks=all',
    'enable.idempotence=true',
    `compression.type=${compression}`,
  ]);
  // "2000000 records sent, 171585.4 records/sec (56.30 MB/sec), 160.8 ms avg latency, ..., 120 ms 50th, 390 ms 95th, 470 ms 99th, ..."
  const summary = output.trim().split('\n').pop() ?? '';
  const rate = /([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(summary);
  if (!rate) throw new Error(`ProducerPerformance printed no rate: ${summary}`);
  const percentile = (name: string) => Number(new RegExp(`(\\d+) ms ${name}`).exec(summary)?.[1] ?? NaN);
  return {
    recordsPerSecond: Math.round(Number(rate[1])),
    mbPerSecond: Number(rate[2]),
    latencyMs: { p50: percentile('50th'), p95: percentile('95th'), p99: percentile('99th') },
  };
}

/** Kafka's ConsumerPerformance reading `records` of the topic from the beginning in a fresh group: its fetch rate. */
export async function consumerPerformance(
  brokers: string,
  topic: string,
  records: number,
  group: string,
): Promise<JavaFigure> {
  const output = await runKafkaTool('org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server',
    brokers,
    '--topic',
    topic,
    '--messages',
    String(records),
    '--group',
    group,
    '--timeout',
    '60000',
    '--hide-header',
  ]);
  // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const fields = (output.trim().split('\n').pop() ?? '').split(',').map((field) => field.trim());
  const rate = Number(fields[9]);
  if (!Number.isFinite(rate)) throw new Error(`ConsumerPerformance printed no rate: ${output}`);
  return { recordsPerSecond: Math.round(rate), mbPerSecond: Number(fields[8]) };
}
