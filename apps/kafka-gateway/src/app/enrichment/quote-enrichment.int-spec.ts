import { randomUUID } from 'node:crypto';
import { CATALOG, formatOccSymbol, HEADERS, sampleEvent } from '@tributary/contracts';
import { ClusterAdmin, ensureTopics } from '@tributary/kafka';
import { commitEndOffsets, type ServiceProcess, startService, waitForHttpStatus } from '@tributary/testing';
import { rawProducer, type ReadRecord, readUntil, testConnection } from '../candles/candle-topics.testing';


/** An underlying no other test quotes (an OCC root has at most six characters). */
function uniqueUnderlying(): string {
  const letters = randomUUID().replace(/[^a-f]/g, '').toUpperCase().padEnd(5, 'Q').slice(0, 5);
  return `Z${letters}`;
}

describe('option quotes enriched with the underlying price in event time', () => {
  const connection = testConnection();
  let gateway: ServiceProcess;

  beforeAll(async () => {
    const groupId = `gateway-enrichment-test-${randomUUID()}`;
    // The join starts at the end of both inputs as they are now: it sees this test's quotes however
    // long it takes to join, and no quote of an earlier run waits in front of them.
    await ensureTopics(connection, [CATALOG['options.quotes'], CATALOG['market.quotes']]);
    const admin = new ClusterAdmin(connection);
    await commitEndOffsets(admin, `${groupId}-enrichment`, ['options.quotes', 'market.quotes']).finally(() => admin.close());
    gateway = startService('kafka-gateway', {
      port: 23132,
      env: {
        GATEWAY_APPLY_CATALOG_ON_START: 'false',
        KAFKA_GROUP_ID: groupId,
        // Quotes are released by the underlying's event time alone: the processing-time fallback (for an
        // input gone silent) must not fire however slowly this machine reads the two topics.
        GATEWAY_ENRICHMENT_MAX_WAIT_MS: '1h',
      },
    });
    await waitForHttpStatus(`${gateway.baseUrl}/health/ready`, 200);
  });

  afterAll(async () => {
    await gateway?.stop();
  });

  function read(topic: string, key: string, expected: number): Promise<ReadRecord[]> {
    return readUntil(connection, topic, (found) => found.length >= expected, `${expected} records of ${key} on ${topic}`, (record) => record.key === key);
  }

  it('joins each option quote with the underlying mid in force at its event time, and dead-letters a crossed quote', async () => {
    const underlying = uniqueUnderlying();
    const base = BigInt(Date.now() - 60_000) * 1_000_000n;
    const at = (ms: number) => String(base + BigInt(ms) * 1_000_000n);
    const contract = { root: underlying, expiration: '2030-01-18', right: 'call', strike: 100 } as const;
    const option = (ms: number, bid: number, ask: number) =>
      sampleEvent('options.quotes', {
        symbol: formatOccSymbol(contract),
        underlying,
        expiration: contract.expiration,
        strike: contract.strike,
        right: contract.right,
        bidPrice: bid,
        askPrice: ask,
        ts: at(ms),
      });
    const quote = (ms: number, bid: number) =>
      sampleEvent('market.quotes', { symbol: underlying, bidPrice: bid, askPrice: bid + 0.2, ts: at(ms) });

    // Written as they are, placed by key as the Java client places them, each acknowledged before the next.
    const producer = rawProducer(connection);
    const send = (topic: string, value: unknown) => producer.sendRaw(topic, [{ key: underlying, value: JSON.stringify(value) }]);
    // The option quotes arrive before the underlying quotes that price them: the join waits for them.
    await send('options.quotes', option(500, 4.0, 4.2));
    await send('options.quotes', option(1_500, 4.5, 4.7));
    await send('options.quotes', option(1_600, 5.0, 4.0));
    await send('market.quotes', quote(0, 100.0));
    await send('market.quotes', quote(1_000, 101.0));
    await send('market.quotes', quote(5_000, 102.0));
    await producer.disconnect();

    const enriched = await read('options.quotes.enriched', underlying, 2);
    const values = enriched.map((record) => JSON.parse(record.value ?? '') as Record<string, unknown>);
    expect(values.map((v) => [v['ts'], v['underlyingPrice'], v['underlyingTs']])).toEqual([
      [at(500), 100.1, at(0)],
      [at(1_500), 101.1, at(1_000)],
    ]);
    expect(values[0]['mid']).toBeCloseTo(4.1, 12);
    expect(values[0]['moneyness']).toBeCloseTo(100.1 / 100, 12);
    expect(values[0]['intrinsic']).toBeCloseTo(0.1, 10);
    expect(enriched.every((record) => /^options\.quotes:\d+:\d+$/.test(record.headers[HEADERS.idempotencyKey] ?? ''))).toBe(true);

    const [rejected] = await read('options.quotes.dlq', underlying, 1);
    expect(rejected.headers['dlq.original.topic']).toBe('options.quotes');
    expect(rejected.headers['dlq.reason']).toMatch(/bid/i);
  });
});
