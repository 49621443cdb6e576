import type { Logger } from 'pino';
import { eventually, TcpProxy } from '@tributary/testing';
import { quietLogger, testConnection, TestTopics, uniqueName } from '../../testing/kafka-test-kit';
import { TypedProducer } from '../producer/typed-producer';
import { ManagedConsumer, type PartitionBatch } from './managed-consumer';

const PARTITIONS = 4;

describe('ManagedConsumer against the real broker', () => {
  const topics = new TestTopics();
  const producer = new TypedProducer(testConnection(), { service: 'kafka-it', logger: quietLogger() });

  afterAll(async () => {
    await producer.disconnect();
    await topics.cleanup();
  });

  /** Writes `count` records numbered from `from`, keyed over a few symbols. */
  async function write(topic: string, from: number, count: number): Promise<void> {
    await producer.sendRaw(
      topic,
      Array.from({ length: count }, (_, i) => ({ key: `k${(from + i) % 13}`, value: String(from + i) })),
    );
  }

  /** A member that records what it was handed: values per partition, in the order handed over. */
  function member(groupId: string, topic: string, handled: Map<number, number[]>, fail?: (batch: PartitionBatch) => boolean) {
    return new ManagedConsumer(testConnection({}, 'kafka-it-consumer'), {
      groupId,
      topics: [topic],
      sessionTimeoutMs: 10_000,
      maxWaitMs: 100,
      retryDelayMs: 50,
      logger: quietLogger(),
      handle: async (batch) => {
        if (fail?.(batch)) throw new Error('not this time');
        const list = handled.get(batch.partition) ?? [];
        for (const record of batch.records) list.push(Number(record.value?.toString()));
        handled.set(batch.partition, list);
      },
    });
  }

  const total = (handled: Map<number, number[]>) => [...handled.values()].reduce((sum, list) => sum + list.length, 0);

  it('two members hand every record over once, in order per partition, across the rebalance that splits the partitions; a restarted group resumes after its commits', async () => {
    const topic = await topics.create(uniqueName('it-managed'), PARTITIONS);
    const groupId = uniqueName('it-managed-group');
    const handled = new Map<number, number[]>();
    await write(topic, 0, 400);
    const first = member(groupId, topic, handled);
    await first.start();
    await eventually(() => total(handled) >= 100, 'the first member handling records');
    const second = member(groupId, topic, handled);
    await second.start();
    await write(topic, 400, 400);
    await eventually(() => total(handled) >= 800, 'all 800 records handled');
    expect([...first.assignment.values()].flat().length + [...second.assignment.values()].flat().length).toBe(PARTITIONS);
    await Promise.all([first.stop(), second.stop()]);

    const all = [...handled.values()].flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 800 }, (_, i) => i));
    // Within a partition the order of the log (the values were written in increasing order).
    for (const list of handled.values()) expect(list).toEqual([...list].sort((a, b) => a - b));

    // A new member of the group starts where the commits left off: only the new records.
    await write(topic, 800, 50);
    const later = new Map<number, number[]>();
    const restarted = member(groupId, topic, later);
    await restarted.start();
    await eventually(() => total(later) >= 50, 'the 50 new records');
    await restarted.stop();
    expect([...later.values()].flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => 800 + i));
  });

  it('a member left without partitions waits idle and takes partitions over when the other leaves', async () => {
    const topic = await topics.create(uniqueName('it-managed-idle'), 1);
    const groupId = uniqueName('it-managed-idle-group');
    const handled = new Map<number, number[]>();
    const busy = member(groupId, topic, handled);
    const idle = member(groupId, topic, handled);
    await busy.start();
    await idle.start();
    // A member spinning on no partitions would chain promises without end and starve every timer:
    // the waits below (timers all) would never come back.
    await eventually(() => [busy, idle].some((consumer) => (consumer.assignment.get(topic)?.length ?? 0) === 0), 'one member without partitions');
    const [owner, waiting] = (busy.assignment.get(topic)?.length ?? 0) > 0 ? [busy, idle] : [idle, busy];
    await owner.stop();
    await eventually(() => (waiting.assignment.get(topic)?.length ?? 0) === 1, 'the idle member taking the partition');
    await write(topic, 0, 5);
    await eventually(() => total(handled) >= 5, 'records handled by the member that took over');
    await waiting.stop();
  });

  it('a batch whose handler fails is handed over again from its first record: nothing is skipped', async () => {
    const topic = await topics.create(uniqueName('it-managed-retry'), 1);
    const handled = new Map<number, number[]>();
    let failures = 0;
    const consumer = member(uniqueName('it-managed-retry-group'), topic, handled, () => failures++ < 2);
    await write(topic, 0, 30);
    await consumer.start();
    await eventually(() => total(handled) >= 30, 'the 30 records after two failed attempts');
    await consumer.stop();
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(handled.get(0)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('started while the cluster cannot be reached, it keeps trying and consumes once the cluster is back', async () => {
    const topic = await topics.create(uniqueName('it-managed-late'), 2);
    const [host, port] = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')[0]?.split(':') ?? [];
    const link = new TcpProxy(host ?? '127.0.0.1', Number(port ?? 9092));
    await link.open();
    await link.cut();
    const handled = new Map<number, number[]>();
    const warnings: string[] = [];
    const logger = { warn: (_fields: unknown, message: string) => warnings.push(message) } as unknown as Logger;
    const consumer = new ManagedConsumer(
      { ...testConnection({ KAFKA_BROKERS: `127.0.0.1:${link.port}`, KAFKA_CONNECTION_TIMEOUT_MS: '500ms' }, 'kafka-it-late'), brokerAddress: () => ({ host: '127.0.0.1', port: link.port }) },
      {
        groupId: uniqueName('it-managed-late-group'),
        topics: [topic],
        maxWaitMs: 100,
        retryDelayMs: 50,
        logger,
        handle: async (batch) => {
          handled.set(batch.partition, [...(handled.get(batch.partition) ?? []), ...batch.records.map((record) => Number(record.value?.toString()))]);
        },
      },
    );
    const started = consumer.start();
    await write(topic, 0, 20);
    await eventually(() => warnings.includes('joining the consumer group failed; trying again'), 'a failed attempt to join');
    await link.open();
    await started;
    await eventually(() => total(handled) >= 20, 'the records written while it could not reach the cluster');
    await consumer.stop();
    await link.cut();
    expect([...handled.values()].flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
