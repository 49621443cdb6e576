import { randomUUID } from 'node:crypto';
import { Producer } from '@platformatic/kafka';
import { eventually, runKafkaTool } from '@tributary/testing';
import { LedTopics } from '../../testing/led-topics';
import { BatchProducer } from './batch-producer';
import { partitionOfKey } from './partitioner';
import { sendProduce } from './produce-request';
import { HeaderTemplate, RecordBatchWriter } from './record-batch';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const PARTITIONS = 6;

interface ReadBack {
  partition: number;
  offset: number;
  headers: Record<string, string>;
  key: string;
  value: string;
}

/** Every record of `topic` as Kafka's own Java consumer reads it (the broker checked each batch's CRC on the way in). */
async function readWithJava(topic: string, expected: number): Promise<ReadBack[]> {
  const output = await runKafkaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
    '--bootstrap-server',
    brokers.join(','),
    '--topic',
    topic,
    '--from-beginning',
    '--max-messages',
    String(expected),
    '--timeout-ms',
    '20000',
    '--property',
    'print.partition=true',
    '--property',
    'print.offset=true',
    '--property',
    'print.headers=true',
    '--property',
    'print.key=true',
  ]);
  return output
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('Partition:'))
    .map((line) => {
      const [partition, offset, headers, key, value] = line.split('\t') as [
        string,
        string,
        string,
        string,
        string,
      ];
      return {
        partition: Number(partition.slice('Partition:'.length)),
        offset: Number(offset.slice('Offset:'.length)),
        headers:
          headers === 'NO_HEADERS'
            ? {}
            : Object.fromEntries(headers.split(',').map((pair) => pair.split(':') as [string, string])),
        key,
        value,
      };
    });
}

describe('record batches written by Tributary, produced to the real broker', () => {
  const run = `it-batches-${randomUUID().slice(0, 8)}`;
  const topics = new LedTopics(run, brokers);
  const client = new Producer({ clientId: run, bootstrapBrokers: brokers, idempotent: true });
  const topic = (name: string) => topics.create(name, PARTITIONS);

  afterAll(async () => {
    await topics.cleanup();
    await client.close();
  });

  const template = new HeaderTemplate(
    { 'schema.name': 'UnderlyingQuote', 'schema.version': '1', producer: 'it/batches' },
    ['event.time', 'idempotency.key'],
  );

  it.each(['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const)(
    'every record arrives once, in its key’s partition, in order, with its headers (%s)',
    async (compression) => {
      const name = await topic(compression);
      const producer = new BatchProducer(client);
      const writers = Array.from({ length: PARTITIONS }, () => new RecordBatchWriter());
      const symbols = ['AAPL', 'MSFT', 'SPY', 'QQQ', 'NVDA', 'TSLA', 'AMZN', 'META'];
      const sent: { key: string; value: string; partition: number }[] = [];
      // Two sends, so each partition's second batch carries the sequence after its first.
      for (const round of [0, 1]) {
        for (let i = 0; i < 400; i++) {
          const key = symbols[i % symbols.length] as string;
          const value = JSON.stringify({ symbol: key, seq: round * 400 + i, note: 'é' });
          const partition = partitionOfKey(key, PARTITIONS);
          (writers[partition] as RecordBatchWriter).append(key, value, 1_767_225_600_000 + i, template, [
            String(1_767_225_600_000_000_000n + BigInt(i)),
            `${key}-${round}-${i}`,
          ]);
          sent.push({ key, value, partition });
        }
        const parts = writers.flatMap((records, partition) =>
          records.recordCount > 0 ? [{ topic: name, partition, records, compression }] : [],
        );
        const written = await producer.send(parts);
        expect(written.reduce((sum, part) => sum + part.count, 0)).toBe(400);
        for (const records of writers) records.reset();
      }

      // A broker started moments ago may still be loading its group coordinator: read again until all are there.
      const read = (await eventually(async () => {
        const all = await readWithJava(name, sent.length);
        return all.length === sent.length ? all : undefined;
      }, `${sent.length} records of ${name} read by the Java consumer`)) as ReadBack[];
      for (const record of read) {
        expect(record.partition).toBe(partitionOfKey(record.key, PARTITIONS));
        expect(record.headers).toMatchObject({
          'schema.name': 'UnderlyingQuote',
          'schema.version': '1',
          producer: 'it/batches',
        });
        expect(record.headers['idempotency.key']).toMatch(new RegExp(`^${record.key}-[01]-\\d+$`));
      }
      // Per partition, the records in the order they were appended.
      for (let partition = 0; partition < PARTITIONS; partition++) {
        const inLog = read
          .filter((record) => record.partition === partition)
          .sort((a, b) => a.offset - b.offset)
          .map((record) => record.value);
        expect(inLog).toEqual(
          sent.filter((record) => record.partition === partition).map((record) => record.value),
        );
      }
    },
  );

  it('a batch sent again with the same producer id and sequence (a retry after a lost answer) is kept once', async () => {
    const name = await topic('retry');
    const { producerId, producerEpoch } = await client.initIdempotentProducer({});
    const writer = new RecordBatchWriter();
    for (let i = 0; i < 10; i++) writer.append('AAPL', `{"i":${i}}`, 1_000 + i);
    const batch = writer.finish({ producerId, producerEpoch, baseSequence: 0 });
    const partition = partitionOfKey('AAPL', PARTITIONS);
    const metadata = await client.metadata({ topics: [name] });
    const leaderId = metadata.topics.get(name)?.partitions[partition]?.leader ?? -1;
    const leader = metadata.brokers.get(leaderId);
    if (!leader) throw new Error(`no leader for ${name}[${partition}]`);
    const connection = await client.connections.get(leader);
    const request = { acks: -1 as const, timeoutMs: 30_000, batches: [{ topic: name, partition, batch }] };
    // A partition created moments ago may answer NOT_LEADER (nothing written) until its leader is up.
    const first = await eventually(async () => {
      const [outcome] = await sendProduce(connection, request);
      return outcome?.errorCode === 6 ? undefined : outcome;
    }, 'the first write of the batch');
    const [again] = await sendProduce(connection, request);
    expect(first).toMatchObject({ errorCode: 0, baseOffset: 0n });
    // The broker recognises the sequence and answers with the first write's offset, writing nothing.
    expect(again?.errorCode === 0 || again?.errorCode === 46).toBe(true);
    const ends = await runKafkaTool('org.apache.kafka.tools.GetOffsetShell', [
      '--bootstrap-server',
      brokers.join(','),
      '--topic',
      name,
    ]);
    expect(ends).toContain(`${name}:${partition}:10`);
  });
});
