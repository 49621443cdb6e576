import { CATALOG, sampleEvent, type EventOf, type TopicSpec } from '@tributary/contracts';
import { eventually } from '@tributary/testing';
import { quietLogger, testConnection, TestTopics, uniqueName } from '../../testing/kafka-test-kit';
import { TypedProducer } from '../producer/typed-producer';
import { KAFKA_BATCH_HANDLER, KAFKA_DEFERRED_COMMIT } from './batch-event-pattern';
import { KafkaBatchServer, type RevokedPartitions } from './kafka-batch-server';
import type { CommittedBatch } from './kafka-batch-server';
import type { KafkaBatchContext } from './kafka-record-context';

type Trade = EventOf<'market.trades'>;

function tradesSpec(topic: string): TopicSpec {
  return { ...CATALOG['market.trades'], topic };
}

/** One batch a deferred-commit handler received, and the switch that declares it durable. */
interface HeldBatch {
  partition: number;
  ids: string[];
  firstOffset: string;
  lastOffset: string;
  durable(): void;
  failed(error: Error): void;
}

/** A deferred-commit consumer whose batches stay undurable until the test says otherwise. */
class DeferredConsumer {
  readonly batches: HeldBatch[] = [];
  readonly revoked: RevokedPartitions[][] = [];
  /** Ranges the server committed, in the order it committed them. */
  readonly committed: CommittedBatch[] = [];
  readonly server: KafkaBatchServer;

  constructor(topic: string, groupId: string, shutdownTimeoutMs = 25_000) {
    this.server = new KafkaBatchServer({
      service: 'kafka-it',
      groupId,
      connection: testConnection(),
      logger: quietLogger(),
      retry: { maxAttempts: 2, baseDelayMs: 20, maxDelayMs: 50 },
      shutdownTimeoutMs,
    });
    this.server.addHandler(
      topic,
      async (values: unknown, context: unknown) => {
        const batch = context as KafkaBatchContext;
        let durable!: () => void;
        let failed!: (error: Error) => void;
        batch.commitWhenDurable(
          new Promise<void>((resolve, reject) => {
            durable = resolve;
            failed = reject;
          }),
        );
        this.batches.push({
          partition: batch.partition,
          ids: (values as Trade[]).map((trade) => trade.tradeId),
          firstOffset: batch.firstOffset,
          lastOffset: batch.lastOffset,
          durable,
          failed,
        });
      },
      true,
      { [KAFKA_BATCH_HANDLER]: true, [KAFKA_DEFERRED_COMMIT]: true },
    );
    this.server.on('partitions-revoked', (revoked) => this.revoked.push(revoked));
    this.server.on('batch', (batch) => this.committed.push(batch));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => this.server.listen((error?: unknown) => (error ? reject(error) : resolve())));
    await eventually(() => this.server.ready, 'the consumer to join its group');
    return this;
  }

  ids(): string[] {
    return this.batches.flatMap((batch) => batch.ids);
  }
}

describe('KafkaBatchServer with deferred commits', () => {
  let topics: TestTopics;
  let producer: TypedProducer;
  const consumers: DeferredConsumer[] = [];

  beforeAll(async () => {
    topics = new TestTopics();
    producer = new TypedProducer(testConnection(), { service: 'options-collector', instanceId: 'it-deferred', logger: quietLogger() });
  });

  afterEach(async () => {
    for (const consumer of consumers) for (const batch of consumer.batches) batch.durable();
    await Promise.all(consumers.splice(0).map((consumer) => consumer.server.close()));
  });

  afterAll(async () => {
    await producer.disconnect();
    await topics.cleanup();
  });

  async function consumer(topic: string, groupId: string, shutdownTimeoutMs?: number): Promise<DeferredConsumer> {
    const started = new DeferredConsumer(topic, groupId, shutdownTimeoutMs);
    consumers.push(started);
    return started.start();
  }

  /** Produces `ids` to partition 0 (one key) and waits until the consumer has them. */
  async function produceAndReceive(spec: TopicSpec, into: DeferredConsumer, ids: string[]): Promise<void> {
    await producer.sendTo(spec, ids.map((id) => ({ value: sampleEvent('market.trades', { tradeId: id, symbol: 'AAPL' }) })));
    await eventually(() => ids.every((id) => into.ids().includes(id)), `records ${ids[0]}.. to reach the handler`);
  }

  /** Waits until partition 0's committed offset is `offset`. */
  async function committedReaches(groupId: string, topic: string, offset: string): Promise<void> {
    await eventually(
      async () => (await topics.committedOffsets(groupId, topic))[0] === offset,
      `the committed offset of ${topic} to reach ${offset}`,
    );
  }

  /**
   * Lets the server act on what the handler declared so far: its durability callbacks run on the
   * promise queue and its commit is scheduled with setImmediate, all in this process.
   */
  async function serverTurns(): Promise<void> {
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
  }

  const range = (prefix: string, from: number, to: number) => Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);

  it('the partition keeps fetching while its batches wait, and commits never pass the records the handler declared durable', async () => {
    const topic = await topics.create(uniqueName('it-deferred-commit'), 1);
    const spec = tradesSpec(topic);
    const groupId = uniqueName('deferred');
    const deferred = await consumer(topic, groupId);

    // three batches arrive although none of them is durable yet: the handler returned at once
    await produceAndReceive(spec, deferred, range('a', 0, 10));
    await produceAndReceive(spec, deferred, range('a', 10, 20));
    await produceAndReceive(spec, deferred, range('a', 20, 30));
    expect(deferred.batches.length).toBeGreaterThanOrEqual(3);
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: '-1' });

    // a later batch durable before an earlier one commits nothing
    const [first, second, ...rest] = deferred.batches as [HeldBatch, HeldBatch, ...HeldBatch[]];
    second.durable();
    await serverTurns();
    expect(deferred.committed).toEqual([]);
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: '-1' });

    // the earlier one too: both commit, up to the end of the second and not one record further
    first.durable();
    const upTo = String(Number(second.lastOffset) + 1);
    await committedReaches(groupId, topic, upTo);
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: upTo });
    // in one commit, after the first became durable: the second was never committed on its own
    const span = ({ firstOffset, lastOffset }: { firstOffset: string; lastOffset: string }) => `${firstOffset}..${lastOffset}`;
    expect(deferred.committed.map(span)).toEqual([first, second].map(span));

    for (const batch of rest) batch.durable();
    await committedReaches(groupId, topic, '30');
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: '30' });
    expect(deferred.ids()).toEqual(range('a', 0, 30));
  });

  it('a consumer that stops without its records being durable leaves exactly those records for the next one', async () => {
    const topic = await topics.create(uniqueName('it-deferred-crash'), 1);
    const spec = tradesSpec(topic);
    const groupId = uniqueName('deferred');
    const crashing = await consumer(topic, groupId, 2_000);
    await produceAndReceive(spec, crashing, range('c', 0, 10));
    await produceAndReceive(spec, crashing, range('c', 10, 25));
    const durableUpTo = Number((crashing.batches[0] as HeldBatch).lastOffset) + 1;
    (crashing.batches[0] as HeldBatch).durable();
    await committedReaches(groupId, topic, String(durableUpTo));
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: String(durableUpTo) });

    // gone with the rest not durable: nothing more is committed
    await crashing.server.close();
    consumers.splice(consumers.indexOf(crashing), 1);
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: String(durableUpTo) });

    const next = await consumer(topic, groupId);
    await eventually(() => next.ids().length >= 25 - durableUpTo, 'the undeclared records to be delivered again');
    expect(next.ids()).toEqual(range('c', durableUpTo, 25));
  });

  it('a rebalance tells the app which partitions it must drop, and their undeclared records reach their new owner', async () => {
    const topic = await topics.create(uniqueName('it-deferred-rebalance'), 2);
    const spec = tradesSpec(topic);
    const groupId = uniqueName('deferred');
    const first = await consumer(topic, groupId);
    const trades = [
      ...range('p', 0, 20).map((id, i) => sampleEvent('market.trades', { tradeId: id, symbol: i % 2 ? 'MSFT' : 'AAPL' })),
    ];
    await producer.sendTo(spec, trades.map((value) => ({ value })));
    await eventually(() => first.ids().length >= 20, 'every record at the first consumer');
    const partitions = [...new Set(first.batches.map((batch) => batch.partition))].sort();
    expect(partitions).toEqual([0, 1]);

    const second = await consumer(topic, groupId);
    await eventually(() => first.revoked.length > 0, 'the revoke hook');
    expect(first.revoked[0]).toEqual([{ topic, partitions: [0, 1] }]);

    // the partition the second consumer got is delivered to it again, from its first record
    await eventually(() => second.batches.length > 0, 'the second consumer to get its partition');
    const owned = (second.server.health().assignment[topic] ?? [])[0] as number;
    const expected = first.batches.filter((batch) => batch.partition === owned && Number(batch.firstOffset) >= 0);
    const expectedIds = expected.filter((b, i, all) => all.findIndex((o) => o.firstOffset === b.firstOffset) === i).flatMap((b) => b.ids);
    await eventually(() => second.ids().length >= expectedIds.length, 'the whole partition at its new owner');
    expect(second.ids()).toEqual(expectedIds);
  }, 180_000);

  it('records that could not be made durable are read again after a backoff, and commit once they are', async () => {
    const topic = await topics.create(uniqueName('it-deferred-rewind'), 1);
    const spec = tradesSpec(topic);
    const groupId = uniqueName('deferred-rewind');
    const deferred = await consumer(topic, groupId);

    await produceAndReceive(spec, deferred, range('r', 0, 5));
    const failedAt = Date.now();
    const failedBatches = deferred.batches.length;
    for (const batch of deferred.batches) batch.failed(new Error('the store refused the flush'));
    // The partition is given up (the app drops its buffer) and its records come again, from the first.
    await eventually(() => deferred.revoked.length > 0, 'the partition to be given up');
    await eventually(() => deferred.ids().filter((id) => id === 'r0').length === 2, 'r0 to come again');
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(15); // not before the backoff (base 20 ms, jitter 10%)
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: '-1' });

    for (const batch of deferred.batches.slice(failedBatches)) batch.durable();
    await committedReaches(groupId, topic, '5');
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: '5' });
  });
});
