import { randomUUID } from 'node:crypto';
import { eventually } from '@tributary/testing';
import { LedTopics } from '../../testing/led-topics';
import { quietLogger, testConnection } from '../../testing/kafka-test-kit';
import { TypedProducer } from '../producer/typed-producer';
import { TopicReader } from './topic-reader';

describe('TopicReader against the real broker', () => {
  const run = `it-reader-${randomUUID().slice(0, 8)}`;
  const topics = new LedTopics(run);
  const producer = new TypedProducer(testConnection(), { service: 'kafka-it', instanceId: run, logger: quietLogger() });
  const readers: TopicReader[] = [];

  afterAll(async () => {
    await Promise.all(readers.map((reader) => reader.stop()));
    await producer.disconnect();
    await topics.cleanup();
  });

  async function write(topic: string, partition: number, values: string[]): Promise<void> {
    await producer.sendRaw(topic, values.map((value) => ({ value, partition })));
  }

  function reader(topic: string, from: ConstructorParameters<typeof TopicReader>[1]['from']): { reader: TopicReader; read: Map<number, string[]> } {
    const read = new Map<number, string[]>();
    const created = new TopicReader(testConnection(), {
      topics: [topic],
      from,
      handle: ({ partition, records }) => {
        read.set(partition, [...(read.get(partition) ?? []), ...records.map((record) => record.value?.toString() ?? '')]);
      },
    });
    readers.push(created);
    return { reader: created, read };
  }

  it('reads every partition from its start, each in offset order, with no consumer group', async () => {
    const topic = await topics.create('all', 3);
    await write(topic, 0, ['a0', 'a1']);
    await write(topic, 2, ['c0', 'c1', 'c2']);
    const { reader: all, read } = reader(topic, 'earliest');
    await all.start();
    await eventually(() => (read.get(0)?.length ?? 0) + (read.get(2)?.length ?? 0) === 5, 'every record');
    expect(read.get(0)).toEqual(['a0', 'a1']);
    expect(read.get(2)).toEqual(['c0', 'c1', 'c2']);
    expect(read.has(1)).toBe(false);
    // It keeps following: records written later arrive too.
    await write(topic, 1, ['b0']);
    await eventually(() => read.get(1)?.length === 1, 'the later record');
  });

  it('from the end reads only records written after it started; from given offsets, from there', async () => {
    const topic = await topics.create('ends', 2);
    await write(topic, 0, ['old-0', 'old-1', 'old-2']);
    await write(topic, 1, ['old-b']);
    const latest = reader(topic, 'latest');
    const given = reader(topic, (_, partition) => (partition === 0 ? 2n : undefined));
    await latest.reader.start();
    await given.reader.start();
    await write(topic, 0, ['new-0']);
    await eventually(() => latest.read.get(0)?.length === 1 && given.read.get(0)?.length === 2, 'the new record at both readers');
    expect(latest.read.get(0)).toEqual(['new-0']);
    expect(latest.read.has(1)).toBe(false);
    expect(given.read.get(0)).toEqual(['old-2', 'new-0']);
    // undefined from the function: the partition's start
    await eventually(() => given.read.get(1)?.length === 1, 'partition 1 from its start');
    expect(given.read.get(1)).toEqual(['old-b']);

    // a seek reads a partition again from there
    given.reader.seek(topic, 0, 0n);
    await eventually(() => given.read.get(0)?.length === 6, 'partition 0 again from offset 0');
    expect(given.read.get(0)).toEqual(['old-2', 'new-0', 'old-0', 'old-1', 'old-2', 'new-0']);
  });
});
