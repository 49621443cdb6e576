import { randomUUID } from 'node:crypto';
import { CATALOG, HEADERS, sampleEvent } from '@tributary/contracts';
import { ClusterAdmin, deadLetterHeaders, ensureTopics } from '@tributary/kafka';
import type { DlqPage, ReplayReport } from './dead-letters';
import { TEST_API_KEY, TEST_AUTH_API_KEYS, authorizedFetch, commitEndOffsets, type ServiceProcess, startService, waitForHttpStatus } from '@tributary/testing';
import { rawProducer, type ReadRecord, readUntil, testConnection, topicEnds } from '../candles/candle-topics.testing';

const ADMIN_KEY = TEST_API_KEY;
const READER_KEY = 'desk-reader-key-0123456789';

describe('dead-letter operations', () => {
  const schema = `gwdlq_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const topic = `cdc.${schema}.orders`;
  const dlqTopic = `${topic}.dlq`;
  const connection = testConnection();
  let admin: ClusterAdmin;
  let gateway: ServiceProcess;
  const groupId = `gateway-dlq-test-${randomUUID()}`;

  function call(method: string, path: string, body?: unknown, key = ADMIN_KEY): Promise<Response> {
    return authorizedFetch(`${gateway.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  async function json<T>(response: Response | Promise<Response>): Promise<T> {
    return (await (await response).json()) as T;
  }

  function consumeOriginal(expected: number): Promise<ReadRecord[]> {
    return readUntil(connection, topic, (found) => found.length >= expected, `${expected} replayed records on ${topic}`);
  }

  beforeAll(async () => {
    admin = new ClusterAdmin(connection);
    await admin.ensureConfigs([
      { topic, numPartitions: 6 },
      { topic: dlqTopic, numPartitions: 1 },
    ]);
    // Five records dead-lettered the way every Tributary consumer does it: original key, value and
    // headers, plus the dlq.* headers.
    const producer = rawProducer(connection);
    await producer.sendRaw(
      dlqTopic,
      Array.from({ length: 5 }, (_, i) => ({
        key: JSON.stringify({ id: String(i) }),
        value: JSON.stringify({
          op: 'c',
          after: { id: String(i), quantity: i === 2 ? 'not-a-number' : '10' },
        }),
        headers: deadLetterHeaders(
          { 'idempotency.key': `0/1A2B3C:${i}` },
          {
            reason: `/after/quantity: record ${i} failed`,
            errorType: 'ValidationError',
            topic,
            partition: i % 6,
            offset: String(100 + i),
            attempts: 0,
            consumerGroup: 'tributary-cep-engine',
            failedAt: new Date('2025-03-21T14:30:00Z'),
          },
        ),
      })),
    );
    await producer.disconnect();

    // The gateway's own trade quality processor reads market.trades from the end: its group starts at
    // the end as it is now, so a trade written later (the replayed one) is read however long it takes to join.
    // The test reads market.trades.validated from its end as it is before the replay: it must exist by then.
    await ensureTopics(connection, [CATALOG['market.trades'], CATALOG['market.trades.validated']]);
    await commitEndOffsets(admin, `${groupId}-quality`, ['market.trades']);

    gateway = startService('kafka-gateway', {
      port: 23112,
      env: {
        AUTH_API_KEYS: `${TEST_AUTH_API_KEYS},desk:${READER_KEY}:read:>`,
        GATEWAY_APPLY_CATALOG_ON_START: 'false',
        KAFKA_GROUP_ID: groupId,
        GATEWAY_ENRICHMENT_ENABLED: 'false',
        GATEWAY_CANDLES_ENABLED: 'false',
      },
    });
    await waitForHttpStatus(`${gateway.baseUrl}/health/ready`, 200);
  });

  afterAll(async () => {
    await gateway?.stop();
    await admin?.deleteTopics([topic, dlqTopic]).catch(() => undefined);
    await admin?.close();
  });

  it("pages through a DLQ with each record's reason, origin and original value", async () => {
    const first = await call('GET', `/admin/dlq/${topic}?limit=2`);
    expect(first.status).toBe(200);
    const page = await json<DlqPage>(first);
    expect(page).toMatchObject({
      dlqTopic,
      partition: 0,
      nextOffset: '2',
      partitions: [{ partition: 0, low: '0', high: '5', records: '5' }],
    });
    expect(page.records).toHaveLength(2);
    expect(page.records[0]).toMatchObject({
      originalTopic: topic,
      partition: 0,
      offset: '100',
      key: '{"id":"0"}',
      reason: '/after/quantity: record 0 failed',
      errorType: 'ValidationError',
      dlqOffset: '0',
    });

    const rest = await json<DlqPage>(
      call('GET', `/admin/dlq/${dlqTopic}?offset=${page.nextOffset ?? ''}&limit=50`),
    );
    expect(rest.records.map((r) => r.dlqOffset)).toEqual(['2', '3', '4']);
    expect(rest.nextOffset).toBeNull();
    expect(JSON.parse(rest.records[0].value ?? '')).toEqual({
      op: 'c',
      after: { id: '2', quantity: 'not-a-number' },
    });
  });

  it('lists the DLQ with its record count', async () => {
    const overview = await json<unknown[]>(call('GET', '/admin/dlq'));
    expect(overview).toContainEqual(expect.objectContaining({ dlqTopic, records: '5' }));
  });

  it('needs the admin scope, and names bad parameters and unknown topics', async () => {
    expect((await call('GET', `/admin/dlq/${topic}`, undefined, 'wrong-key-0123456789')).status).toBe(401);
    expect((await call('GET', `/admin/dlq/${topic}`, undefined, READER_KEY)).status).toBe(403);
    expect((await call('GET', '/admin/dlq/not.a.topic')).status).toBe(404);
    const badOffset = await call('GET', `/admin/dlq/${topic}?offset=-3`);
    expect(badOffset.status).toBe(400);
    expect((await json<{ message: string }>(badOffset)).message).toContain(
      'offset must be a non-negative integer',
    );
    const badPartition = await call('GET', `/admin/dlq/${topic}?partition=4`);
    expect(badPartition.status).toBe(400);
    expect((await json<{ message: string }>(badPartition)).message).toContain('has no partition 4');
  });

  it('replays selected records to the original topic with their key, value and idempotency key', async () => {
    const response = await call('POST', `/admin/dlq/${topic}/replay`, { offsets: ['1', '3', '9'] });
    expect(response.status).toBe(200);
    const report = await json<ReplayReport>(response);
    expect(report.replayed.map((r) => r.dlqOffset)).toEqual(['1', '3']);
    expect(report.missing).toEqual(['9']);

    const landed = await consumeOriginal(2);
    expect(landed).toHaveLength(2);
    const byKey = new Map(landed.map((record) => [record.key, record]));
    for (const [i, where] of [
      [1, report.replayed[0]],
      [3, report.replayed[1]],
    ] as const) {
      const message = byKey.get(JSON.stringify({ id: String(i) }));
      expect(message?.value).toBe(JSON.stringify({ op: 'c', after: { id: String(i), quantity: '10' } }));
      expect(message?.headers['idempotency.key']).toBe(`0/1A2B3C:${i}`);
      expect(message?.headers['dlq.reason']).toBeUndefined();
      expect(message?.headers['dlq.replayed.from']).toBe(`${dlqTopic}/0/${i}`);
      expect(message?.offset).toBe(where.offset);
    }
  });

  it('purges only with the DLQ name as confirmation, and only below the given offset', async () => {
    const refused = await call('POST', `/admin/dlq/${topic}/purge`, { beforeOffset: '2' });
    expect(refused.status).toBe(400);
    expect((await json<{ message: string }>(refused)).message).toContain(`{"confirm": "${dlqTopic}"}`);

    const purged = await call('POST', `/admin/dlq/${topic}/purge`, { confirm: dlqTopic, beforeOffset: '2' });
    expect(purged.status).toBe(200);
    expect(await purged.json()).toEqual({
      dlqTopic,
      partition: 0,
      lowBefore: '0',
      lowAfter: '2',
      deleted: '2',
    });

    const page = await json<DlqPage>(call('GET', `/admin/dlq/${topic}`));
    expect(page.partitions[0]).toMatchObject({ low: '2', high: '5', records: '3' });
    expect(page.records.map((r) => r.dlqOffset)).toEqual(['2', '3', '4']);
  });

  it('replays a dead-lettered trade that then flows through the quality checks to market.trades.validated', async () => {
    const symbol = `R${randomUUID()
      .replace(/[^A-F0-9]/gi, '')
      .slice(0, 6)
      .toUpperCase()}`;
    const trade = sampleEvent('market.trades', { symbol, ts: String(BigInt(Date.now()) * 1_000_000n) });
    const producer = rawProducer(connection);
    const [sent] = await producer
      .sendRawWithOffsets('market.trades.dlq', [
        {
          key: symbol,
          value: JSON.stringify(trade),
          headers: deadLetterHeaders(
            { [HEADERS.idempotencyKey]: `replay-${symbol}` },
            {
              reason: 'handler failed: downstream store unavailable',
              errorType: 'HandlerError',
              topic: 'market.trades',
              partition: 0,
              offset: '1',
              attempts: 5,
              consumerGroup: 'tributary-historical-data-manager',
              failedAt: new Date(),
            },
          ),
        },
      ])
      .finally(() => producer.disconnect());

    // Validated records are read from the end of market.trades.validated as it is before the replay.
    const since = await topicEnds(connection, 'market.trades.validated');
    const replay = await call('POST', '/admin/dlq/market.trades/replay', { offsets: [String(sent.offset)] });
    expect(replay.status).toBe(200);
    expect((await json<ReplayReport>(replay)).replayed).toHaveLength(1);

    const validated = await readUntil(
      connection,
      'market.trades.validated',
      (found) => found.length >= 1,
      `the replayed trade of ${symbol} on market.trades.validated`,
      (record) => record.key === symbol,
      since,
    );
    expect(JSON.parse(validated[0].value ?? '')).toEqual(trade);
  });
});
