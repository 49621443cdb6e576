import { randomUUID } from 'node:crypto';
import { Consumer, Producer, stringSerializers } from '@platformatic/kafka';
import { eventually } from '@tributary/testing';
import { LedTopics } from '../../testing/led-topics';
import { type FetchedRecord, PartitionFetcher } from './partition-fetcher';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');

describe('PartitionFetcher against the real broker', () => {
  const run = `it-fetcher-${randomUUID().slice(0, 8)}`;
  const topics = new LedTopics(run);
  const client = new Consumer({ clientId: run, groupId: `${run}-unused`, bootstrapBrokers: brokers });
  const topic = (name: string, partitions: number) => topics.create(name, partitions);

  /** Fetches until `done` says the partitions' records so far are all there. */
  async function readUntil(
    fetcher: PartitionFetcher,
    done: (byPartition: Map<number, FetchedRecord[]>) => boolean,
  ): Promise<Map<number, FetchedRecord[]>> {
    const byPartition = new Map<number, FetchedRecord[]>();
    await eventually(async () => {
      const { partitions } = await fetcher.fetch();
      for (const fetched of partitions) {
        byPartition.set(fetched.partition, [...(byPartition.get(fetched.partition) ?? []), ...fetched.records]);
      }
      return done(byPartition);
    }, 'the fetched records');
    return byPartition;
  }

  afterAll(async () => {
    await topics.cleanup();
    await client.close();
  });

  it('read_committed hands over committed transactions only, also with two aborted transactions of one producer in one fetch', async () => {
    const name = await topic('transactions', 1);
    const producer = new Producer({
      clientId: `${run}-tx`,
      bootstrapBrokers: brokers,
      idempotent: true,
      transactionalId: `${run}-tx`,
      serializers: stringSerializers,
    });
    const transaction = async (values: string[], outcome: 'commit' | 'abort') => {
      const tx = await producer.beginTransaction();
      await tx.send({ messages: values.map((value) => ({ topic: name, partition: 0, key: 'k', value })) });
      await (outcome === 'commit' ? tx.commit() : tx.abort());
    };
    try {
      await transaction(['c1', 'c2'], 'commit');
      await transaction(['a1', 'a2'], 'abort');
      await transaction(['c3'], 'commit');
      await transaction(['a3'], 'abort');
      await transaction(['a4'], 'abort');
      await transaction(['c4', 'c5'], 'commit');
    } finally {
      await producer.close();
    }

    const fetcher = new PartitionFetcher(client, { maxWaitMs: 100 });
    fetcher.assign(name, 0, 0n);
    const read = await readUntil(fetcher, (byPartition) => (byPartition.get(0)?.length ?? 0) >= 5);
    // Let a further fetch prove nothing else comes: the position is past the last marker.
    const again = await fetcher.fetch();
    expect(again.partitions.flatMap((partition) => partition.records)).toEqual([]);
    expect(read.get(0)?.map((record) => record.value?.toString())).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
    // Offsets are the log's: markers and aborted records take offsets of their own.
    const offsets = read.get(0)?.map((record) => Number(record.offset)) ?? [];
    expect(offsets[0]).toBe(0);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(fetcher.position(name, 0)).toBeGreaterThan(BigInt(offsets[offsets.length - 1] ?? 0));

    // read_uncommitted sees the aborted records too, never the markers.
    const uncommitted = new PartitionFetcher(client, { maxWaitMs: 100, readCommitted: false });
    uncommitted.assign(name, 0, 0n);
    const all = await readUntil(uncommitted, (byPartition) => (byPartition.get(0)?.length ?? 0) >= 9);
    expect(all.get(0)?.map((record) => record.value?.toString())).toEqual([
      'c1', 'c2', 'a1', 'a2', 'c3', 'a3', 'a4', 'c4', 'c5',
    ]);
  });

  it('a paused partition keeps its position while the others flow; resumed, it goes on from there', async () => {
    const name = await topic('pause', 2);
    const producer = new Producer({ clientId: `${run}-plain`, bootstrapBrokers: brokers, serializers: stringSerializers });
    const write = (partition: number, values: string[]) =>
      producer.send({ messages: values.map((value) => ({ topic: name, partition, key: 'k', value })), acks: -1 });
    const fetcher = new PartitionFetcher(client, { maxWaitMs: 100 });
    try {
      await write(0, ['p0-1']);
      await write(1, ['p1-1']);
      fetcher.assign(name, 0, 0n);
      fetcher.assign(name, 1, 0n);
      await readUntil(fetcher, (byPartition) => byPartition.has(0) && byPartition.has(1));

      fetcher.pause(name, 1);
      await write(0, ['p0-2']);
      await write(1, ['p1-2']);
      const whilePaused = await readUntil(fetcher, (byPartition) => (byPartition.get(0)?.length ?? 0) >= 1);
      expect(whilePaused.has(1)).toBe(false);
      expect(fetcher.position(name, 1)).toBe(1n);

      fetcher.resume(name, 1);
      const resumed = await readUntil(fetcher, (byPartition) => (byPartition.get(1)?.length ?? 0) >= 1);
      expect(resumed.get(1)?.map((record) => record.value?.toString())).toEqual(['p1-2']);

      // Seeking back reads the partition again from there.
      fetcher.seek(name, 0, 0n);
      const replayed = await readUntil(fetcher, (byPartition) => (byPartition.get(0)?.length ?? 0) >= 2);
      expect(replayed.get(0)?.map((record) => record.value?.toString())).toEqual(['p0-1', 'p0-2']);
    } finally {
      await producer.close();
    }
  });
});
