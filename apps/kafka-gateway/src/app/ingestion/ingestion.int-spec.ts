import { randomUUID } from 'node:crypto';
import { HEADERS, sampleEvent } from '@tributary/contracts';
import type { KafkaConnection } from '@tributary/kafka';
import { TEST_API_KEY, TEST_AUTH_API_KEYS, authorizedFetch, type ServiceProcess, startService, waitForHttpStatus } from '@tributary/testing';
import { type ReadRecord, readUntil, testConnection } from '../candles/candle-topics.testing';

const STREAM = 'market.quotes';
const ADMIN_KEY = TEST_API_KEY;
const READER_KEY = 'desk-reader-key-0123456789';
/** The test key's holder: the gateway prefixes idempotency keys with it (`<caller>/<key>`). */
const CALLER = 'integration-test';

function post(service: ServiceProcess, path: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return authorizedFetch(`${service.baseUrl}${path}`, {
    method: 'POST',
    body,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', ...headers },
  });
}

/** Records of `STREAM` whose idempotency key starts with `prefix`, once `expected` of them are there. */
function recordsKeyed(connection: KafkaConnection, prefix: string, expected: number): Promise<ReadRecord[]> {
  // The topic is read from its start; only this test's keys are kept.
  return readUntil(
    connection,
    STREAM,
    (found) => found.length >= expected,
    `${expected} records keyed ${prefix}*`,
    (record) => (record.headers[HEADERS.idempotencyKey] ?? '').startsWith(`${CALLER}/${prefix}`),
  );
}

describe('HTTP ingestion bridge', () => {
  const connection = testConnection();
  let gateway: ServiceProcess;

  beforeAll(async () => {
    gateway = startService('kafka-gateway', {
      port: 23102,
      env: {
        GATEWAY_MAX_BODY_BYTES: '4096',
        AUTH_API_KEYS: `${TEST_AUTH_API_KEYS},desk:${READER_KEY}:read:>`,
        GATEWAY_APPLY_CATALOG_ON_START: 'false',
        KAFKA_GROUP_ID: `gateway-ingestion-test-${randomUUID()}`,
      },
    });
    await waitForHttpStatus(`${gateway.baseUrl}/health/ready`, 200);
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  it('answers 202 once Kafka acknowledged a single event, carrying its Idempotency-Key, prefixed with the caller, as the idempotency.key header', async () => {
    const key = `single-${randomUUID()}`;
    const response = await post(gateway, `/v1/streams/${STREAM}/events`, JSON.stringify(sampleEvent(STREAM)), { 'idempotency-key': key });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({
      stream: STREAM,
      accepted: 1,
      rejected: 0,
      results: [{ index: 0, status: 'accepted', idempotencyKey: key }],
    });
    const landed = await recordsKeyed(connection, key, 1);
    expect(JSON.parse(landed[0].value ?? '')).toEqual(sampleEvent(STREAM));
  });

  it('lands the valid events of a batch and answers 400 naming each rejected event (wrong type, negative price, missing field, future time) by index with its field errors', async () => {
    const prefix = `batch-${randomUUID()}`;
    const { symbol: _symbol, ...withoutSymbol } = sampleEvent(STREAM);
    const body = [
      { value: sampleEvent(STREAM), idempotencyKey: `${prefix}-0` },
      { value: { ...sampleEvent(STREAM), bidPrice: -1 }, idempotencyKey: `${prefix}-1` },
      { value: { ...sampleEvent(STREAM), bidPrice: 'high' }, idempotencyKey: `${prefix}-2` },
      { value: sampleEvent(STREAM, { symbol: 'MSFT' }), idempotencyKey: `${prefix}-3` },
      { value: withoutSymbol, idempotencyKey: `${prefix}-4` },
      // An hour ahead of the clock: beyond the tolerated skew.
      { value: sampleEvent(STREAM, { ts: String(BigInt(Date.now() + 3_600_000) * 1_000_000n) }), idempotencyKey: `${prefix}-5` },
    ];
    const response = await post(gateway, `/v1/streams/${STREAM}/events`, JSON.stringify(body));
    expect(response.status).toBe(400);
    const answer = (await response.json()) as { results: { status: string; errors?: unknown }[] };
    expect(answer).toMatchObject({ accepted: 2, rejected: 4 });
    expect(answer.results.map((result) => result.status)).toEqual(['accepted', 'rejected', 'rejected', 'accepted', 'rejected', 'rejected']);
    expect(answer.results[1].errors).toEqual([expect.objectContaining({ path: '/bidPrice' })]);
    expect(answer.results[2].errors).toEqual([expect.objectContaining({ path: '/bidPrice' })]);
    expect(answer.results[4].errors).toEqual([{ path: '/symbol', message: 'required' }]);
    expect(answer.results[5].errors).toEqual([expect.objectContaining({ path: '/ts', message: expect.stringMatching(/future/) })]);

    const landed = await recordsKeyed(connection, prefix, 2);
    expect(landed.map((record) => record.headers[HEADERS.idempotencyKey]).sort()).toEqual([`${CALLER}/${prefix}-0`, `${CALLER}/${prefix}-3`]);
  });

  it('takes NDJSON, one event per line', async () => {
    const prefix = `ndjson-${randomUUID()}`;
    const lines = [0, 1, 2].map((i) => JSON.stringify({ value: sampleEvent(STREAM), idempotencyKey: `${prefix}-${i}` }));
    const response = await post(gateway, `/v1/streams/${STREAM}/events`, `${lines.join('\n')}\n`, {
      'content-type': 'application/x-ndjson',
    });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ accepted: 3, rejected: 0 });
  });

  it('answers 400 to a body that is not JSON', async () => {
    const response = await post(gateway, `/v1/streams/${STREAM}/events`, '{"symbol": ');
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toMatch(/the body is not JSON/);
  });

  it('answers 404 to a stream that is not in the catalog', async () => {
    const response = await post(gateway, '/v1/streams/market.nonsense/events', JSON.stringify(sampleEvent(STREAM)));
    expect(response.status).toBe(404);
  });

  it('answers 413 to a body above GATEWAY_MAX_BODY_BYTES', async () => {
    const events = Array.from({ length: 40 }, () => sampleEvent(STREAM));
    const response = await post(gateway, `/v1/streams/${STREAM}/events`, JSON.stringify(events));
    expect(response.status).toBe(413);
  });

  it('answers 401 without a key or with an unknown one, and 403 to a key without produce scope', async () => {
    const body = JSON.stringify(sampleEvent(STREAM));
    expect((await post(gateway, `/v1/streams/${STREAM}/events`, body, { authorization: '' })).status).toBe(401);
    expect((await post(gateway, `/v1/streams/${STREAM}/events`, body, { authorization: 'Bearer wrong-key-0123456789' })).status).toBe(401);
    const forbidden = await post(gateway, `/v1/streams/${STREAM}/events`, body, { authorization: `Bearer ${READER_KEY}` });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { message: string }).message).toContain(`produce:${STREAM}`);
  });
});

describe('HTTP ingestion bridge without a reachable broker', () => {
  let gateway: ServiceProcess;

  beforeAll(async () => {
    gateway = startService('kafka-gateway', {
      port: 23103,
      env: {
        // Nothing listens there: every send waits for an acknowledgement that never comes.
        KAFKA_BROKERS: '127.0.0.1:1',
        GATEWAY_ACK_TIMEOUT_MS: '2s',
        GATEWAY_MAX_IN_FLIGHT_EVENTS: '2',
        GATEWAY_APPLY_CATALOG_ON_START: 'false',
      },
    });
    await waitForHttpStatus(`${gateway.baseUrl}/health/live`, 200);
  });

  afterAll(() => gateway?.stop(5_000));

  it('answers 503 with Retry-After when Kafka does not acknowledge, and 429 with Retry-After while the in-flight bound is full', async () => {
    const events = JSON.stringify([sampleEvent(STREAM), sampleEvent(STREAM)]);
    const unavailable = await post(gateway, `/v1/streams/${STREAM}/events`, events);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).toBe('5');
    expect(((await unavailable.json()) as { message: string }).message).toMatch(/resend them with the same idempotency keys/);

    // Those two events still wait in the producer (its connection attempts outlast the answer by far),
    // so they still fill the bound: the next event is refused at once.
    const busy = await post(gateway, `/v1/streams/${STREAM}/events`, JSON.stringify(sampleEvent(STREAM)));
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('1');
  });
});
