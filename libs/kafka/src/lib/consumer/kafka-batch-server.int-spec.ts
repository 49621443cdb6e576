import {
  CATALOG,
  DLQ_HEADERS,
  HEADERS,
  sampleEvent,
  type EventOf,
  type TopicSpec,
} from '@tributary/contracts';
import { runWithCorrelationId } from '@tributary/observability';
import { eventually, TcpProxy } from '@tributary/testing';
import {
  EchoProcess,
  quietLogger,
  readRecords,
  startTestServer,
  testConnection,
  TestTopics,
  uniqueName,
} from '../../testing/kafka-test-kit';
import type { KafkaConnection } from '../kafka-connection';
import { TypedProducer } from '../producer/typed-producer';
import { KafkaBatchServer } from './kafka-batch-server';
import type { KafkaBatchContext } from './kafka-record-context';

type Trade = EventOf<'market.trades'>;

function trade(tradeId: string, overrides: Partial<Trade> = {}): Trade {
  return sampleEvent('market.trades', { tradeId, ...overrides });
}

/** The market.trades contract under a topic name of this test's own. */
function tradesSpec(topic: string): TopicSpec {
  return { ...CATALOG['market.trades'], topic };
}

describe('KafkaBatchServer', () => {
  let topics: TestTopics;
  let producer: TypedProducer;
  const servers: KafkaBatchServer[] = [];
  const links: TcpProxy[] = [];
  const processes: EchoProcess[] = [];

  beforeAll(async () => {
    topics = new TestTopics();
    producer = new TypedProducer(testConnection(), { service: 'options-collector', instanceId: 'it-1', logger: quietLogger() });
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((echo) => echo.kill()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
    await Promise.all(links.splice(0).map((link) => link.cut()));
  });

  afterAll(async () => {
    await producer.disconnect();
    await topics.cleanup();
  });

  function echo(env: Record<string, string>): EchoProcess {
    const process = new EchoProcess(env);
    processes.push(process);
    return process;
  }

  async function joined(process: EchoProcess): Promise<void> {
    await process.waitFor(
      (lines) => lines.some((line) => line.echo === 'status' && line.status === 'group-joined'),
      'the echo service to join its group',
      90_000,
    );
  }

  it('a record produced by one service\'s typed producer reaches an @EventPattern handler in another process with schema version, event time and correlation id headers intact', async () => {
    const topic = await topics.create(uniqueName('it-cross-process'), 3);
    const spec = tradesSpec(topic);
    const consumer = echo({ ECHO_TOPIC: topic, ECHO_GROUP: uniqueName('echo') });
    await joined(consumer);

    const explicit = trade('t-explicit', { symbol: 'AAPL', ts: '1742567400123456789' });
    const ambient = trade('t-ambient', { symbol: 'MSFT', ts: '1742567401000000001' });
    await producer.sendTo(spec, [{ value: explicit, correlationId: 'corr-explicit', idempotencyKey: 'trade-t-explicit' }]);
    await runWithCorrelationId('corr-ambient', () => producer.sendTo(spec, [ambient]));

    await consumer.waitFor((lines) => lines.filter((line) => line.echo === 'record').length >= 2, 'two records');
    const received = new Map(consumer.records().map((line) => [(line['value'] as Trade).tradeId, line]));

    const first = received.get('t-explicit');
    expect(first?.['value']).toEqual(explicit);
    expect(first?.['key']).toBe('AAPL');
    expect(first?.['topic']).toBe(topic);
    expect(first?.['headers']).toMatchObject({
      [HEADERS.schemaVersion]: String(CATALOG['market.trades'].version),
      [HEADERS.schemaName]: 'UnderlyingTrade',
      [HEADERS.eventTime]: '1742567400123456789',
      [HEADERS.producer]: 'options-collector/it-1',
      [HEADERS.correlationId]: 'corr-explicit',
      [HEADERS.idempotencyKey]: 'trade-t-explicit',
    });
    expect(first?.['eventTime']).toBe('1742567400123456789');
    expect(first?.['correlationId']).toBe('corr-explicit');
    // The handler runs inside the record's correlation ID, so its logs and sends carry it.
    expect(first?.['ambientCorrelationId']).toBe('corr-explicit');

    const second = received.get('t-ambient');
    expect(second?.['key']).toBe('MSFT');
    expect(second?.['eventTime']).toBe('1742567401000000001');
    expect(second?.['correlationId']).toBe('corr-ambient');
    expect(second?.['ambientCorrelationId']).toBe('corr-ambient');
  });

  it('a record whose handler always throws lands in <topic>.dlq after N attempts with the failure headers, and the records after it are still processed', async () => {
    const topic = await topics.create(uniqueName('it-dlq'), 2);
    const spec = tradesSpec(topic);
    const groupId = uniqueName('echo');
    const consumer = echo({ ECHO_TOPIC: topic, ECHO_GROUP: groupId, ECHO_MAX_ATTEMPTS: '3' });
    await joined(consumer);

    const failing = trade('fail-1');
    const producedAt = Date.now();
    await producer.sendTo(spec, [{ value: trade('ok-before') }, { value: failing, correlationId: 'corr-failing' }, { value: trade('ok-after') }]);

    await consumer.waitFor(
      (lines) => lines.some((line) => line.echo === 'handled' && line['tradeId'] === 'ok-after'),
      'the record after the failing one to be handled',
    );
    const attempts = consumer
      .records()
      .filter((line) => (line['value'] as Trade).tradeId === 'fail-1')
      .map((line) => line['attempt']);
    expect(attempts).toEqual([1, 2, 3]);
    const failedOffset = consumer.records().find((line) => (line['value'] as Trade).tradeId === 'fail-1')?.['offset'];
    const partition = consumer.records().find((line) => (line['value'] as Trade).tradeId === 'fail-1')?.['partition'];

    const [dead] = await readRecords(testConnection(), `${topic}.dlq`, 1);
    expect(dead.key).toBe(failing.symbol);
    expect(dead.value?.toString()).toBe(JSON.stringify(failing));
    expect(dead.headers).toMatchObject({
      [HEADERS.correlationId]: 'corr-failing',
      [HEADERS.schemaName]: 'UnderlyingTrade',
      [DLQ_HEADERS.reason]: 'trade fail-1 cannot be booked',
      [DLQ_HEADERS.errorType]: 'TradeFailure',
      [DLQ_HEADERS.originalTopic]: topic,
      [DLQ_HEADERS.originalPartition]: String(partition),
      [DLQ_HEADERS.originalOffset]: failedOffset,
      [DLQ_HEADERS.attempts]: '3',
      [DLQ_HEADERS.consumerGroup]: groupId,
    });
    // Failed after it was produced, by the clock of this machine, which the echo process shares.
    expect(Date.parse(dead.headers[DLQ_HEADERS.failedAt])).toBeGreaterThanOrEqual(producedAt);
    expect(Date.parse(dead.headers[DLQ_HEADERS.failedAt])).toBeLessThanOrEqual(Date.now());

    // Everything up to the last record is committed: a restart would not see the failing record again.
    await consumer.waitFor((lines) => lines.some((line) => line.echo === 'batch' && line['lastOffset'] === '2'), 'the commit up to the last record');
    expect((await topics.committedOffsets(groupId, topic))[Number(partition)]).toBe('3');
  });

  it('a batch whose handler fails is not committed: after the consumer restarts the batch is delivered again', async () => {
    const topic = await topics.create(uniqueName('it-redeliver'), 1);
    const spec = tradesSpec(topic);
    const groupId = uniqueName('echo');
    const ids = ['r0', 'r1', 'stall-r2', 'r3', 'r4'];
    await producer.sendTo(spec, ids.map((id) => ({ value: trade(id) })));

    // The restarted member gets the partition once the killed one's session (the broker's 6 s minimum) ends.
    const crashing = echo({ ECHO_TOPIC: topic, ECHO_GROUP: groupId, KAFKA_SESSION_TIMEOUT_MS: '6s' });
    await crashing.waitFor(
      (lines) => lines.some((line) => line.echo === 'record' && (line['value'] as Trade).tradeId === 'stall-r2'),
      'the stalling record to reach its handler',
      90_000,
    );
    expect(crashing.lines.filter((line) => line.echo === 'handled').map((line) => line['tradeId'])).toEqual(['r0', 'r1']);
    await crashing.kill(); // kill -9 in the middle of the batch
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: '-1' });

    const restarted = echo({ ECHO_TOPIC: topic, ECHO_GROUP: groupId, ECHO_STALL: 'off', KAFKA_SESSION_TIMEOUT_MS: '6s' });
    await restarted.waitFor(
      (lines) => lines.filter((line) => line.echo === 'handled').length >= ids.length,
      'the whole batch to be delivered again',
      90_000,
    );
    expect(restarted.lines.filter((line) => line.echo === 'handled').map((line) => line['tradeId'])).toEqual(ids);
    await restarted.waitFor((lines) => lines.some((line) => line.echo === 'batch'), 'the commit of the batch');
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: '5' });
  });

  it('records that are not JSON or fail the schema go to the DLQ at once with the validation errors as reason', async () => {
    const topic = await topics.create(uniqueName('it-bad-data'), 1);
    const handled: unknown[] = [];
    const server = await startTestServer({
      topic,
      topicSpecs: [tradesSpec(topic)],
      validate: true,
      handler: (value) => void handled.push(value),
    });
    servers.push(server);

    const valid = trade('valid');
    const { tradeId: _dropped, ...withoutTradeId } = trade('x');
    // written as they are, past any contract check
    await producer.sendRaw(topic, [
      { key: 'AAPL', value: '{"symbol": "AAPL", "price": 1', headers: { [HEADERS.correlationId]: 'corr-garbled' } },
      { key: 'AAPL', value: JSON.stringify({ ...withoutTradeId, price: -5 }) },
      { key: 'AAPL', value: JSON.stringify(valid) },
    ]);

    const dead = await readRecords(testConnection(), `${topic}.dlq`, 2);
    await eventually(() => handled.length === 1, 'the valid record');
    expect(handled).toEqual([valid]);

    const [garbled, invalid] = dead.sort((a, b) => Number(a.headers[DLQ_HEADERS.originalOffset]) - Number(b.headers[DLQ_HEADERS.originalOffset]));
    expect(garbled.value?.toString()).toBe('{"symbol": "AAPL", "price": 1');
    expect(garbled.headers[HEADERS.correlationId]).toBe('corr-garbled');
    expect(garbled.headers[DLQ_HEADERS.errorType]).toBe('DeserializationError');
    expect(garbled.headers[DLQ_HEADERS.reason]).toMatch(/^value is not JSON: /);
    expect(garbled.headers[DLQ_HEADERS.attempts]).toBe('0');

    expect(invalid.headers[DLQ_HEADERS.errorType]).toBe('ValidationError');
    expect(invalid.headers[DLQ_HEADERS.reason]).toContain('/price');
    expect(invalid.headers[DLQ_HEADERS.reason]).toContain('/tradeId: required');
    expect(invalid.headers[DLQ_HEADERS.attempts]).toBe('0');
    expect(invalid.headers[DLQ_HEADERS.originalOffset]).toBe('1');
  });

  it('SIGTERM during a batch finishes the batch, commits and exits', async () => {
    const topic = await topics.create(uniqueName('it-sigterm'), 1);
    const spec = tradesSpec(topic);
    const groupId = uniqueName('echo');
    const ids = Array.from({ length: 8 }, (_, index) => `slow-${index}`);
    await producer.sendTo(spec, ids.map((id) => ({ value: trade(id) })));

    const consumer = echo({ ECHO_TOPIC: topic, ECHO_GROUP: groupId, ECHO_DELAY_MS: '250' });
    await consumer.waitFor((lines) => lines.some((line) => line.echo === 'record'), 'the first record', 90_000);
    consumer.signal('SIGTERM');
    const exit = await consumer.exited;

    expect(exit.signal === 'SIGTERM' || exit.code === 0).toBe(true);
    expect(consumer.lines.filter((line) => line.echo === 'handled').map((line) => line['tradeId'])).toEqual(ids);
    expect(consumer.lines.some((line) => line.echo === 'batch' && line['lastOffset'] === '7')).toBe(true);
    expect(await topics.committedOffsets(groupId, topic)).toEqual({ 0: '8' });
  });

  it('a batch handler gets the partition\'s records in order, and a poison record among them is dead-lettered while every other record is handled once', async () => {
    const topic = await topics.create(uniqueName('it-batch'), 1);
    const ids = Array.from({ length: 40 }, (_, index) => (index === 23 ? 'poison' : `b${index}`));
    await producer.sendTo(tradesSpec(topic), ids.map((id) => ({ value: trade(id) })));

    const handled: string[] = [];
    const batchSizes: number[] = [];
    const server = await startTestServer({
      topic,
      batch: true,
      handler: (values, context) => {
        const trades = values as Trade[];
        if ((context as KafkaBatchContext).size !== trades.length) throw new Error('context does not match the values');
        if (trades.some((value) => value.tradeId === 'poison')) throw new Error('poison in the batch');
        batchSizes.push(trades.length);
        handled.push(...trades.map((value) => value.tradeId));
      },
    });
    servers.push(server);

    const [dead] = await readRecords(testConnection(), `${topic}.dlq`, 1);
    expect(JSON.parse(dead.value?.toString() ?? '{}').tradeId).toBe('poison');
    expect(dead.headers[DLQ_HEADERS.reason]).toBe('poison in the batch');
    await eventually(() => handled.length === ids.length - 1, 'the other records');
    expect(handled).toEqual(ids.filter((id) => id !== 'poison'));
    expect(Math.max(...batchSizes)).toBeGreaterThan(1);
  });

  it('a paused topic is not fetched until it is resumed', async () => {
    const topic = await topics.create(uniqueName('it-pause'), 2);
    const unpaused = await topics.create(uniqueName('it-pause-other'), 1);
    const handled: string[] = [];
    const record = (value: unknown) => void handled.push((value as Trade).tradeId);
    const server = await startTestServer({ topic, handler: record, alsoConsumes: { [unpaused]: record } });
    servers.push(server);

    server.pause(topic);
    expect(server.pausedTopics()).toEqual([{ topic }]);
    await producer.sendTo(tradesSpec(topic), [{ value: trade('held') }]);
    // Records written after the held one to a topic the same consumer still fetches: once the second
    // of them is handled, every fetch that could have brought the held record has been handled too.
    for (const marker of ['fetched-after-1', 'fetched-after-2']) {
      await producer.sendTo(tradesSpec(unpaused), [{ value: trade(marker) }]);
      await eventually(() => handled.includes(marker), `${marker} of the topic not paused`);
    }
    expect(handled).toEqual(['fetched-after-1', 'fetched-after-2']);

    server.resume(topic);
    await eventually(() => handled.includes('held'), 'the held record after resume');
    expect(server.pausedTopics()).toEqual([]);
  });

  /** A connection to the local broker through a TCP hop the test controls, and the hop. */
  async function linkedConnection(overrides: Record<string, string> = {}): Promise<{ link: TcpProxy; connection: KafkaConnection }> {
    const [host, port] = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')[0]?.split(':') ?? [];
    const link = new TcpProxy(host ?? '127.0.0.1', Number(port ?? 9092));
    links.push(link);
    await link.open();
    const connection = {
      ...testConnection({ KAFKA_BROKERS: `127.0.0.1:${link.port}`, KAFKA_CONNECTION_TIMEOUT_MS: '1s', ...overrides }),
      brokerAddress: () => ({ host: '127.0.0.1', port: link.port }),
    };
    return { link, connection };
  }

  async function listening(server: KafkaBatchServer): Promise<void> {
    await new Promise<void>((resolve, reject) => server.listen((error?: unknown) => (error ? reject(error) : resolve())));
  }

  it('a consumer started while the brokers are unreachable starts anyway, and consumes once they are back, also after a later outage', async () => {
    const topic = await topics.create(uniqueName('it-outage'), 1);
    const spec = tradesSpec(topic);
    const { link, connection } = await linkedConnection();
    link.refuse();
    const handled: string[] = [];
    const server = new KafkaBatchServer({ service: 'kafka-it', groupId: uniqueName('outage'), connection, logger: quietLogger() });
    servers.push(server);
    server.addHandler(topic, async (value: unknown) => void handled.push((value as Trade).tradeId), true);
    await listening(server);
    await eventually(() => link.refusedConnections >= 3, 'the consumer to try the unreachable brokers three times');
    await eventually(() => server.health().lastError !== null, 'the health to say why the consumer is not ready');
    expect(server.ready).toBe(false);

    link.restore();
    await eventually(() => server.ready, 'the consumer to join once the brokers are reachable');
    await producer.sendTo(spec, [{ value: trade('before-outage') }]);
    await eventually(() => handled.includes('before-outage'), 'the first record');

    link.refuse();
    const refusedBefore = link.refusedConnections;
    await eventually(
      () => link.refusedConnections >= refusedBefore + 5,
      'the consumer to lose the brokers and fail to reach them five times',
      150_000,
    );
    await producer.sendTo(spec, [{ value: trade('during-outage') }]);
    link.restore();
    await eventually(() => handled.includes('during-outage'), 'the record written during the outage', 120_000);
    expect(handled.filter((id) => id === 'before-outage')).toHaveLength(1);
  }, 360_000);

  it('a consumer whose connections went silent (no reset, no answer) drops them after the request timeout and consumes again', async () => {
    const topic = await topics.create(uniqueName('it-blackhole'), 1);
    const spec = tradesSpec(topic);
    const { link, connection } = await linkedConnection({ KAFKA_REQUEST_TIMEOUT_MS: '3s' });
    const handled: string[] = [];
    const server = new KafkaBatchServer({
      service: 'kafka-it',
      groupId: uniqueName('blackhole'),
      connection,
      // The member rejoins once the silent session (the broker's 6 s minimum) has ended.
      sessionTimeoutMs: 6_000,
      logger: quietLogger(),
    });
    servers.push(server);
    server.addHandler(topic, async (value: unknown) => void handled.push((value as Trade).tradeId), true);
    await listening(server);
    await eventually(() => server.ready, 'the consumer to join its group');
    await producer.sendTo(spec, [{ value: trade('before-blackhole') }]);
    await eventually(() => handled.includes('before-blackhole'), 'the first record');

    link.silence();
    await eventually(() => link.refusedConnections >= 2, 'the consumer to give up its silent connections and dial again twice', 150_000);
    link.restore();
    await producer.sendTo(spec, [{ value: trade('after-blackhole') }]);
    await eventually(() => handled.includes('after-blackhole'), 'the record written after the blackhole', 120_000);
  }, 360_000);
});
