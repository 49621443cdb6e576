import { randomUUID } from 'node:crypto';
import { HEADERS, sampleEvent } from '@tributary/contracts';
import type { KafkaConnection } from '@tributary/kafka';
import { TEST_API_KEY, authorizedFetch, eventually, freezeKafkaBroker, readInfraEnv, type ServiceProcess, startService, waitForHttpStatus } from '@tributary/testing';
import { readAll, type ReadRecord, testConnection, topicEnds } from '../candles/candle-topics.testing';

const STREAM = 'market.quotes';
const KEY = TEST_API_KEY;
/** The test key's holder: the gateway prefixes idempotency keys with it. */
const CALLER = 'integration-test';

function post(gateway: ServiceProcess, body: unknown, idempotencyKey: string): Promise<Response> {
  return authorizedFetch(`${gateway.baseUrl}/v1/streams/${STREAM}/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    body: JSON.stringify(body),
  });
}

/**
 * Every record of `STREAM` whose idempotency key starts with `prefix`, once all the gateway sent is
 * acknowledged: its producer sends one request at a time, so an acknowledged answer means every copy
 * written before it (a send the producer retried on its own) is on the topic too.
 */
function landed(connection: KafkaConnection, prefix: string, since: ReadonlyMap<number, bigint>): Promise<ReadRecord[]> {
  return readAll(connection, STREAM, (record) => (record.headers[HEADERS.idempotencyKey] ?? '').startsWith(`${CALLER}/${prefix}`), since);
}

describe('ingestion when the broker hangs and comes back', () => {
  const connection = testConnection();
  let gateway: ServiceProcess;

  beforeAll(async () => {
    gateway = startService('kafka-gateway', {
      port: 23142,
      env: {
        GATEWAY_APPLY_CATALOG_ON_START: 'false',
        GATEWAY_ENRICHMENT_ENABLED: 'false',
        GATEWAY_CANDLES_ENABLED: 'false',
        GATEWAY_QUALITY_ENABLED: 'false',
        GATEWAY_ACK_TIMEOUT_MS: '2s',
        KAFKA_GROUP_ID: `gateway-resilience-test-${randomUUID()}`,
      },
    });
    await waitForHttpStatus(`${gateway.baseUrl}/health/ready`, 200);
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  it('answers 503 while Kafka does not acknowledge, loses nothing it accepted, and takes the resent events once it is back', async () => {
    const prefix = `outage-${randomUUID()}`;
    const since = await topicEnds(connection, STREAM);
    const before = await post(gateway, sampleEvent(STREAM), `${prefix}-before`);
    expect(before.status).toBe(202);

    const thaw = freezeKafkaBroker();
    let during: Response;
    try {
      during = await post(gateway, sampleEvent(STREAM), `${prefix}-during`);
    } finally {
      thaw();
    }
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');

    // The client does what the 503 says: resend with the same idempotency key once Kafka is back.
    await eventually(
      async () => (await post(gateway, sampleEvent(STREAM), `${prefix}-during`)).status === 202,
      'the resent event accepted',
    );

    const keys = (await landed(connection, prefix, since)).map((record) => record.headers[HEADERS.idempotencyKey]);
    expect(keys.filter((k) => k === `${CALLER}/${prefix}-before`)).toHaveLength(1);
    // The event of the 503 may have landed from the producer's own retry as well as from the resend:
    // every copy carries the same idempotency key, so consumers keep one.
    expect(keys.filter((k) => k === `${CALLER}/${prefix}-during`).length).toBeGreaterThanOrEqual(1);
    expect(new Set(keys)).toEqual(new Set([`${CALLER}/${prefix}-before`, `${CALLER}/${prefix}-during`]));
  });

  it('counts accepted and rejected events per stream and reason in its metrics', async () => {
    const invalid = await post(gateway, { ...sampleEvent(STREAM), bidPrice: -1 }, `metrics-${randomUUID()}`);
    expect(invalid.status).toBe(400);
    const metrics = await (await authorizedFetch(`${gateway.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/tributary_gateway_events_total\{[^}]*stream="market\.quotes"[^}]*outcome="accepted"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/tributary_gateway_rejected_events_total\{[^}]*reason="schema"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/tributary_gateway_rejected_events_total\{[^}]*reason="unavailable"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/tributary_gateway_ack_seconds_count\{[^}]*stream="market\.quotes"[^}]*\} [1-9]/);
  });
});

describe('ingestion through the SASL/SCRAM listener', () => {
  // The test reads what landed through the plaintext listener: only the gateway authenticates.
  const connection = testConnection();
  let gateway: ServiceProcess;

  beforeAll(async () => {
    const infra = readInfraEnv();
    gateway = startService('kafka-gateway', {
      port: 23152,
      env: {
        KAFKA_BROKERS: infra['KAFKA_SASL_BROKERS'],
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: infra['KAFKA_SASL_USERNAME'],
        KAFKA_SASL_PASSWORD: infra['KAFKA_SASL_PASSWORD'],
        GATEWAY_APPLY_CATALOG_ON_START: 'false',
        KAFKA_GROUP_ID: `gateway-sasl-test-${randomUUID()}`,
      },
    });
    await waitForHttpStatus(`${gateway.baseUrl}/health/ready`, 200);
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  it('lands events with the catalog compression when the gateway authenticates with SCRAM-SHA-512', async () => {
    const key = `sasl-${randomUUID()}`;
    const since = await topicEnds(connection, STREAM);
    const response = await post(gateway, sampleEvent(STREAM, { symbol: 'SCRAM' }), key);
    expect(response.status).toBe(202);
    const [record] = await landed(connection, key, since);
    expect(JSON.parse(record?.value ?? '')).toEqual(sampleEvent(STREAM, { symbol: 'SCRAM' }));
  });
});
