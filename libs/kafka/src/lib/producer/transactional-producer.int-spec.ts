import { randomUUID } from 'node:crypto';
import { Consumer } from '@platformatic/kafka';
import { eventually } from '@tributary/testing';
import { ClusterAdmin } from '../cluster-admin';
import { GroupSession } from '../consumer/group-session';
import { TopicReader } from '../consumer/topic-reader';
import { quietLogger, testConnection, TestTopics } from '../../testing/kafka-test-kit';
import type { PartitionRecords } from './batch-producer';
import { RecordBatchWriter } from './record-batch';
import { isTransactionFenced, TransactionalProducer, TransactionFencedError } from './transactional-producer';

/** Every record value of the topic a reader sees, by isolation level. */
async function valuesOf(topic: string, readCommitted: boolean, atLeast: number): Promise<string[]> {
  const admin = new ClusterAdmin(testConnection());
  // read_committed stops at the last stable offset; read_uncommitted at the high watermark.
  const ends = await admin.topicOffsets(topic).finally(() => admin.close());
  const end = new Map(ends.map((entry) => [entry.partition, BigInt(entry.high)]));
  const values: string[] = [];
  const reader = new TopicReader(testConnection(), {
    topics: [topic],
    readCommitted,
    logger: quietLogger(),
    handle: (batch) => {
      for (const record of batch.records) values.push(record.value?.toString() ?? '');
    },
  });
  await reader.start();
  try {
    // Positions move past aborted records and transaction markers too.
    await eventually(
      () =>
        values.length >= atLeast &&
        [...end].every(([partition, high]) => (reader.position(topic, partition) ?? 0n) >= high),
      `${topic} read to its end (read_${readCommitted ? 'committed' : 'uncommitted'})`,
    );
  } finally {
    await reader.stop();
  }
  return values.sort();
}

function batchOf(topic: string, partition: number, values: readonly string[]): PartitionRecords {
  const records = new RecordBatchWriter();
  for (const value of values) records.append(value, value, Date.now());
  return { topic, partition, records };
}

describe('TransactionalProducer against the real broker', () => {
  const run = `it-txn-${randomUUID().slice(0, 8)}`;
  const topics = new TestTopics();
  const producers: TransactionalProducer[] = [];
  const clients: Consumer[] = [];

  function producer(transactionalId: string): TransactionalProducer {
    const created = new TransactionalProducer(testConnection({}, run), {
      transactionalId,
      transactionTimeoutMs: 20_000,
      logger: quietLogger(),
    });
    producers.push(created);
    return created;
  }

  async function member(groupId: string, topic: string): Promise<GroupSession> {
    const client = new Consumer({
      clientId: run,
      groupId,
      bootstrapBrokers: testConnection().brokers as string[],
    });
    clients.push(client);
    const session = new GroupSession(client, {
      groupId,
      topics: [topic],
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 300,
    });
    await session.join();
    return session;
  }

  afterAll(async () => {
    await Promise.all(producers.map((created) => created.close()));
    await Promise.all(clients.map((client) => client.close()));
    await topics.cleanup();
  });

  it('commits records on several partitions and the input offsets together: read_committed readers see every record and the group resumes after them', async () => {
    const output = await topics.create(`${run}-out`, 2);
    const input = await topics.create(`${run}-in`, 2);
    const groupId = `${run}-group`;
    const session = await member(groupId, input);
    const writer = producer(`${run}.p0`);

    for (let transaction = 0; transaction < 3; transaction++) {
      const written = await writer.commit(
        [batchOf(output, 0, [`a${transaction}`, `b${transaction}`]), batchOf(output, 1, [`c${transaction}`])],
        {
          groupId,
          ...session.generation,
          offsets: [
            {
              topic: input,
              partition: 0,
              offset: BigInt(10 * (transaction + 1)),
              metadata: `checkpoint ${transaction}`,
            },
          ],
        },
      );
      expect(written.map(({ partition, count }) => [partition, count]).sort()).toEqual([
        [0, 2],
        [1, 1],
      ]);
    }

    expect(await valuesOf(output, true, 9)).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'c0', 'c1', 'c2']);
    const committed = await session.committedEntries(new Map([[input, [0]]]));
    expect(committed.get(`${input}:0`)).toEqual({ offset: 30n, metadata: 'checkpoint 2' });
    await session.leave();
  });

  it('offsets of a consumer generation that is over are refused (KIP-447): the transaction is aborted, its records never visible to read_committed readers', async () => {
    const output = await topics.create(`${run}-stale-out`, 1);
    const input = await topics.create(`${run}-stale-in`, 1);
    const groupId = `${run}-stale`;
    const session = await member(groupId, input);
    const writer = producer(`${run}.stale`);
    await writer.commit([batchOf(output, 0, ['kept'])], {
      groupId,
      ...session.generation,
      offsets: [{ topic: input, partition: 0, offset: 1n }],
    });

    const stale = {
      generationId: session.generation.generationId - 1,
      memberId: session.generation.memberId,
    };
    const refused = writer.commit([batchOf(output, 0, ['zombie-1', 'zombie-2'])], {
      groupId,
      ...stale,
      offsets: [{ topic: input, partition: 0, offset: 3n }],
    });
    await expect(refused).rejects.toBeInstanceOf(TransactionFencedError);
    await expect(refused).rejects.toMatchObject({ reason: 'group' });

    // The producer itself is not fenced: its next transaction commits.
    await writer.commit([batchOf(output, 0, ['after'])], {
      groupId,
      ...session.generation,
      offsets: [{ topic: input, partition: 0, offset: 4n }],
    });
    expect(await valuesOf(output, true, 2)).toEqual(['after', 'kept']);
    // The aborted records are in the log, hidden by the abort marker.
    expect(await valuesOf(output, false, 4)).toEqual(['after', 'kept', 'zombie-1', 'zombie-2']);
    expect((await session.committed(new Map([[input, [0]]]))).get(`${input}:0`)).toBe(4n);
    await session.leave();
  });

  it('a new producer with the same transactional id fences the old one: the old one can commit nothing more', async () => {
    const output = await topics.create(`${run}-fence-out`, 1);
    const transactionalId = `${run}.fence`;
    const old = producer(transactionalId);
    await old.commit([batchOf(output, 0, ['old-1'])]);

    const successor = producer(transactionalId);
    await successor.init();
    const zombie = old.commit([batchOf(output, 0, ['zombie'])]);
    await expect(zombie).rejects.toMatchObject({ reason: 'producer' });
    await zombie.catch((error: unknown) => expect(isTransactionFenced(error)).toBe(true));
    // Fenced for good: it does not even try again.
    await expect(old.commit([batchOf(output, 0, ['zombie-again'])])).rejects.toBeInstanceOf(
      TransactionFencedError,
    );

    await successor.commit([batchOf(output, 0, ['new-1'])]);
    expect(await valuesOf(output, true, 2)).toEqual(['new-1', 'old-1']);
  });
});
