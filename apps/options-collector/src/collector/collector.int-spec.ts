import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DLQ_HEADERS, dlqTopicOf, HEADERS, validateEvent } from '@tributary/contracts';
import { ClusterAdmin, decodeHeaders, kafkaConnection, recordHeader, TopicReader } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { parseEnv } from '@tributary/config';
import { TEST_AUTH_API_KEYS, authorizedFetch, eventually } from '@tributary/testing';
import { AppModule } from '../app/app.module';
import { optionsCollectorEnv } from '../config';

const TOPICS = ['market.quotes', 'market.trades', 'options.quotes', 'options.trades', 'options.chains', 'options.flow'] as const;
const DLQ_TOPICS = ['market.quotes', 'market.trades', 'options.quotes', 'options.trades'].map(dlqTopicOf);

interface Received {
  topic: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/**
 * The service as `npm start` runs it (simulator, defaults), in process, against the real broker. The
 * catalog topics are shared: this run's records are told apart by their `producer` header, which
 * carries a unique instance id.
 */
describe('options-collector publishing to the real broker', () => {
  const instance = `it-${randomUUID().slice(0, 8)}`;
  const producerId = `options-collector/${instance}`;
  const received: Received[] = [];
  let reader: TopicReader;
  let app: INestApplication;
  let baseUrl: string;

  beforeAll(async () => {
    const config = parseEnv(optionsCollectorEnv, {
    AUTH_API_KEYS: TEST_AUTH_API_KEYS,
      KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092',
      INSTANCE_ID: instance,
      LOG_LEVEL: 'warn',
      SIMULATOR_SEED: instance,
      SIMULATOR_EVENTS_PER_SECOND: '2000',
      // Unusual flow often enough that options.flow sees a record within seconds at this rate.
      SIMULATOR_SWEEP_PROBABILITY: '0.05',
      SIMULATOR_FAULT_FRACTION: '0.01',
      CHAIN_SNAPSHOT_INTERVAL_MS: '200ms',
    });
    const connection = kafkaConnection(config, `collector-it-${instance}`);

    app = await NestFactory.create(AppModule.forRoot(config), { logger: false });
    await app.listen(0, '127.0.0.1');
    baseUrl = await app.getUrl();

    // The service creates the catalog topics itself; the reader needs them to exist, their partitions
    // led, to take its start positions.
    const admin = new ClusterAdmin(connection);
    try {
      await eventually(async () => {
        const topics = new Set(await admin.listTopics());
        for (const topic of [...TOPICS, ...DLQ_TOPICS]) if (!topics.has(topic)) throw new Error(`${topic} missing`);
        return true;
      }, 'the catalog topics and their DLQs');
      for (const topic of [...TOPICS, ...DLQ_TOPICS]) await admin.topicOffsets(topic);
    } finally {
      await admin.close();
    }

    // Every partition is read from its end as it is now (the catalog topics are shared with other
    // runs); `start` resolves once each has that position, so nothing published after it is missed.
    reader = new TopicReader(connection, {
      topics: [...TOPICS, ...DLQ_TOPICS],
      from: 'latest',
      handle: ({ topic, records }) => {
        for (const record of records) {
          if (recordHeader(record, HEADERS.producer) !== producerId) continue;
          received.push({
            topic,
            key: record.key?.toString() ?? null,
            value: record.value?.toString() ?? '',
            headers: decodeHeaders(record.headers),
          });
        }
      },
      logger: createLogger('collector-it', 'warn'),
    });
    await reader.start();
  });

  afterAll(async () => {
    await reader?.stop();
    await app?.close();
  });

  it('fills all six topics with valid records keyed by the underlying, with schema, event-time and producer headers', async () => {
    await eventually(() => {
      for (const topic of TOPICS) {
        if (!received.some((record) => record.topic === topic)) throw new Error(`nothing on ${topic} yet`);
      }
      return true;
    }, 'a record of this run on each of the six topics', 120_000);
    const wallClock = Date.now();
    for (const record of received.filter((item) => !item.topic.endsWith('.dlq'))) {
      const value = JSON.parse(record.value) as { ts: string; symbol?: string; underlying?: string };
      const result = validateEvent(record.topic, value, { nowMs: wallClock });
      expect(result.ok ? [] : [record.topic, result.errors]).toEqual([]);
      const underlying = record.topic.startsWith('market.') ? value.symbol : value.underlying;
      expect(record.key).toBe(underlying);
      expect(record.headers[HEADERS.schemaVersion]).toMatch(/^\d+$/);
      expect(record.headers[HEADERS.schemaName]).toBeTruthy();
      expect(record.headers[HEADERS.eventTime]).toBe(value.ts);
    }
  });

  it('sends corrupted source records to the DLQ of their topic with the reason, never to the topic itself', async () => {
    await eventually(() => received.some((record) => record.topic.endsWith('.dlq')), 'a dead letter', 60_000);
    for (const record of received.filter((item) => item.topic.endsWith('.dlq'))) {
      expect(record.headers[DLQ_HEADERS.reason]).toBeTruthy();
      expect(record.headers[DLQ_HEADERS.errorType]).toBe('ValidationError');
      expect(dlqTopicOf(record.headers[DLQ_HEADERS.originalTopic])).toBe(record.topic);
      expect(validateEvent(record.headers[DLQ_HEADERS.originalTopic], JSON.parse(record.value)).ok).toBe(false);
    }
    const metrics = await (await authorizedFetch(`${baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/tributary_collector_invalid_records_total\{topic="[a-z.]+",service="options-collector"\} [1-9]/);
  });

  it('GET /chains/SPY answers the selected chain with mids, IVs and Greeks; GET /status counts what was published', async () => {
    type Chain = {
      underlying: string;
      underlyingPrice: number;
      contracts: { mid: number | null; iv?: number; greeks?: { gamma: number; delta: number } }[];
    };
    const withGreeks = (chain: Chain) => chain.contracts.filter((row) => row.iv !== undefined && row.greeks !== undefined);
    // A contract has an IV once the simulator has quoted it: right after start-up only some have been.
    const chain = (await eventually(async () => {
      const answered = (await (await authorizedFetch(`${baseUrl}/chains/spy`)).json()) as Chain;
      return withGreeks(answered).length > answered.contracts.length / 2 ? answered : undefined;
    }, 'most of the SPY chain quoted, with IVs and Greeks')) as Chain;
    expect(chain.underlying).toBe('SPY');
    expect(chain.underlyingPrice).toBeGreaterThan(0);
    expect(chain.contracts.length).toBeGreaterThan(0);

    const unknown = await authorizedFetch(`${baseUrl}/chains/XYZ`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { message: string }).message).toMatch(/XYZ/);

    const status = (await (await authorizedFetch(`${baseUrl}/status`)).json()) as {
      source: string;
      state: string;
      underlyings: Record<string, { subscriptions: number }>;
      published: Record<string, number>;
    };
    expect(status.source).toBe('simulator');
    expect(status.state).toBe('publishing');
    expect(Object.keys(status.underlyings)).toEqual(['SPY', 'QQQ', 'AAPL', 'TSLA', 'NVDA']);
    expect(status.underlyings['SPY'].subscriptions).toBeGreaterThan(0);
    for (const topic of TOPICS) expect(status.published[topic]).toBeGreaterThan(0);
  });
});
