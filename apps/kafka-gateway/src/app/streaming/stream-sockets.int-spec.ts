import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { HEADERS, sampleEvent } from '@tributary/contracts';
import { ClusterAdmin, type KafkaConnection, partitionOfKey } from '@tributary/kafka';
import { TEST_API_KEY, TEST_AUTH_API_KEYS, authorizedFetch, eventually, type ServiceProcess, startService, waitForHttpStatus } from '@tributary/testing';
import { readUntil, testConnection } from '../candles/candle-topics.testing';

const STREAM = 'market.quotes';
const ADMIN_KEY = TEST_API_KEY;
const READER_KEY = 'desk-reader-key-0123456789';
/** A caller of its own for the per-caller socket cap, so the other tests' sockets do not count against it. */
const CAPPED_KEY = 'capped-caller-key-0123456789';
const SOCKETS_PER_CALLER = 3;

/** A ticker no other test writes, so this test's records are told apart on the shared topic. */
function uniqueSymbol(): string {
  return `T${randomUUID().replaceAll('-', '').slice(0, 8).toUpperCase()}`;
}

/**
 * A ticker no other test writes whose records land on the same partition of `STREAM` as `symbol`'s (the
 * gateway partitions by key as the Java client does): written first, it is read before `symbol`'s.
 */
async function neighbourOf(connection: KafkaConnection, symbol: string): Promise<string> {
  const admin = new ClusterAdmin(connection);
  const partitions = await admin.partitionCount(STREAM).finally(() => admin.close());
  const partition = (key: string) => partitionOfKey(key, partitions);
  for (;;) {
    const candidate = uniqueSymbol();
    if (partition(candidate) === partition(symbol)) return candidate;
  }
}

/** The JSON messages each socket received, collected from its creation: a first message may arrive with the upgrade. */
const received = new WeakMap<WebSocket, Record<string, unknown>[]>();

/** The JSON messages of a socket opened by {@link open}, from the first one on. */
function collect(socket: WebSocket): Record<string, unknown>[] {
  return received.get(socket) ?? [];
}

function open(url: string, key: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${key}` } });
    const messages: Record<string, unknown>[] = [];
    received.set(socket, messages);
    socket.on('message', (data) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    socket.once('error', reject);
  });
}

describe('WebSocket producers and live fan-out', () => {
  const connection = testConnection();
  let gateway: ServiceProcess;
  let wsBase: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    gateway = startService('kafka-gateway', {
      port: 23122,
      env: {
        AUTH_API_KEYS: `${TEST_AUTH_API_KEYS},desk:${READER_KEY}:read:>,capped:${CAPPED_KEY}:read:>|produce:>`,
        GATEWAY_WS_MAX_CONNECTIONS_PER_CALLER: String(SOCKETS_PER_CALLER),
        GATEWAY_APPLY_CATALOG_ON_START: 'false',
        KAFKA_GROUP_ID: `gateway-ws-test-${randomUUID()}`,
      },
    });
    await waitForHttpStatus(`${gateway.baseUrl}/health/ready`, 200);
    wsBase = gateway.baseUrl.replace(/^http/, 'ws');
  });

  afterAll(async () => {
    for (const socket of sockets) socket.terminate();
    await gateway?.stop();
  });

  it('acknowledges each producer frame once the brokers have its valid events, naming the invalid ones', async () => {
    const symbol = uniqueSymbol();
    const socket = await open(`${wsBase}/v1/streams/${STREAM}/ws`, ADMIN_KEY);
    sockets.push(socket);
    const replies = collect(socket);
    const key = `ws-${randomUUID()}`;
    socket.send(
      JSON.stringify({
        id: 'frame-1',
        events: [{ value: sampleEvent(STREAM, { symbol }), idempotencyKey: key }, sampleEvent(STREAM, { symbol, bidPrice: -1 })],
      }),
    );
    socket.send('this is not JSON');
    socket.send(JSON.stringify(sampleEvent(STREAM, { symbol })));
    await eventually(() => replies.length >= 3, 'three replies');

    expect(replies[0]).toMatchObject({ type: 'ack', id: 'frame-1', accepted: 1, rejected: 1 });
    expect((replies[0]['results'] as { status: string }[]).map((r) => r.status)).toEqual(['accepted', 'rejected']);
    expect(replies[1]).toMatchObject({ type: 'error', id: 2 });
    expect(String(replies[1]['message'])).toContain('the frame is not JSON');
    // A frame without an id is acknowledged by its sequence number on the connection.
    expect(replies[2]).toMatchObject({ type: 'ack', id: 3, accepted: 1, rejected: 0 });

    const landed = await readUntil(
      connection,
      STREAM,
      (found) => found.length >= 2,
      'the two accepted events on Kafka',
      (record) => record.key === symbol,
    );
    expect(landed).toHaveLength(2);
    expect(landed.some((record) => record.headers[HEADERS.idempotencyKey] === `integration-test/${key}`)).toBe(true);
  });

  it('refuses the upgrade without a key, with an unknown key, without the scope, and for an unknown stream', async () => {
    await expect(open(`${wsBase}/v1/streams/${STREAM}/ws`, '')).rejects.toThrow('HTTP 401');
    await expect(open(`${wsBase}/v1/streams/${STREAM}/ws`, 'not-a-key-0123456789')).rejects.toThrow('HTTP 401');
    await expect(open(`${wsBase}/v1/streams/${STREAM}/ws`, READER_KEY)).rejects.toThrow('HTTP 403');
    await expect(open(`${wsBase}/v1/streams/no.such.stream/live`, READER_KEY)).rejects.toThrow('HTTP 404');
  });

  it('caps the sockets one caller holds (429 beyond it) and takes a new one once one closes', async () => {
    const held: WebSocket[] = [];
    for (let i = 0; i < SOCKETS_PER_CALLER; i++) held.push(await open(`${wsBase}/v1/streams/${STREAM}/live`, CAPPED_KEY));
    sockets.push(...held);
    await expect(open(`${wsBase}/v1/streams/${STREAM}/ws`, CAPPED_KEY)).rejects.toThrow('HTTP 429');
    // Another caller is not held back by this one's sockets.
    sockets.push(await open(`${wsBase}/v1/streams/${STREAM}/live`, READER_KEY));
    held[0].close();
    await eventually(async () => {
      try {
        sockets.push(await open(`${wsBase}/v1/streams/${STREAM}/live`, CAPPED_KEY));
        return true;
      } catch {
        return false;
      }
    }, 'a socket accepted again once one of the caller’s sockets closed');
  });

  it('refuses a producer socket on a stream the platform writes itself, whatever the scope', async () => {
    await expect(open(`${wsBase}/v1/streams/cep.alerts/ws`, CAPPED_KEY)).rejects.toThrow('HTTP 403');
    await expect(open(`${wsBase}/v1/streams/market.trades.validated/ws`, ADMIN_KEY)).rejects.toThrow('HTTP 403');
  });

  it('streams records of a topic to live subscribers as they are written, only the keys asked for', async () => {
    const symbol = uniqueSymbol();
    const subscriber = await open(`${wsBase}/v1/streams/${STREAM}/live?keys=${symbol}`, READER_KEY);
    sockets.push(subscriber);
    const seen = collect(subscriber);
    await eventually(() => seen.some((m) => m['type'] === 'subscribed'), 'the subscription');

    const post = (value: unknown) =>
      authorizedFetch(`${gateway.baseUrl}/v1/streams/${STREAM}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(value),
      });
    // Another symbol's quote must not reach the subscriber; its own must, with its exact value. The other
    // one goes first to the same partition: by the time the own quote arrives, it would have arrived too.
    expect((await post(sampleEvent(STREAM, { symbol: await neighbourOf(connection, symbol) }))).status).toBe(202);
    const quote = sampleEvent(STREAM, { symbol, bidPrice: 101.25, askPrice: 101.27 });
    expect((await post(quote)).status).toBe(202);

    await eventually(() => seen.some((m) => m['type'] === 'record' && m['key'] === symbol), 'the live record');
    const records = seen.filter((m) => m['type'] === 'record');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ type: 'record', topic: STREAM, key: symbol, value: quote });
  });
});
