import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HEADERS, nanosFromMillis, validateEvent } from '@tributary/contracts';
import { parseEnv } from '@tributary/config';
import { ClusterAdmin, decodeHeaders, kafkaConnection, recordHeader, TopicReader } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { TEST_AUTH_API_KEYS, authorizedFetch, eventually } from '@tributary/testing';
import { AppModule } from '../../app/app.module';
import { dateOfDay, easternDay } from '../../chain/market-calendar';
import { optionsCollectorConfigIssues, optionsCollectorEnv } from '../../config';
import { AlpacaPeer, contractOf, optionQuoteMessage, stockQuoteMessage } from './testing/alpaca-peer';

type Received = { topic: string; key: string | null; value: string; headers: Record<string, string> };

/** Waits until a record matches; fails naming what was awaited. */
function awaitRecord(records: Received[], match: (record: Received) => boolean, what: string): Promise<Received> {
  return eventually(() => records.find(match), what) as Promise<Received>;
}

const READ_TOPICS = ['options.quotes', 'options.chains', 'market.quotes'];

const KEY = 'PKINTEGRATION000001';
const SECRET = 'integration-secret-0c1d2e';

/**
 * The service with MARKET_SOURCE=alpaca against the local Alpaca peer and the real broker: contracts
 * listed, the chain selected from the underlying's snapshot quote, the selection subscribed on the
 * option stream, and live option quotes published with their exact nanoseconds and snapshotted.
 */
describe('options-collector fed by Alpaca (local peer) publishing to the real broker', () => {
  const instance = `it-alpaca-${randomUUID().slice(0, 8)}`;
  const received: Received[] = [];
  const today = easternDay(Date.now());
  const expiration = dateOfDay(today + 7);
  const yymmdd = expiration.slice(2).replaceAll('-', '');
  const atTheMoney = `SPY${yymmdd}C00500000`;
  let peer: AlpacaPeer;
  let reader: TopicReader;
  let app: INestApplication;
  let baseUrl: string;

  beforeAll(async () => {
    const contracts = [];
    for (let strike = 490; strike <= 510; strike += 5) {
      for (const right of ['C', 'P']) contracts.push(contractOf(`SPY   ${yymmdd}${right}${String(strike * 1000).padStart(8, '0')}`, 'SPY', '250'));
    }
    peer = await AlpacaPeer.start({
      keyId: KEY,
      secretKey: SECRET,
      contracts,
      optionSnapshots: { SPY: { [atTheMoney]: { impliedVolatility: 0.19, greeks: { delta: 0.51 } } } },
      stockSnapshots: {
        SPY: { latestQuote: { bp: 500, bs: 1, bx: 'V', ap: 500.02, as: 1, ax: 'V', t: new Date().toISOString() } },
      },
    });
    const config = parseEnv(
      optionsCollectorEnv,
      {
    AUTH_API_KEYS: TEST_AUTH_API_KEYS,
        KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092',
        INSTANCE_ID: instance,
        LOG_LEVEL: 'warn',
        MARKET_SOURCE: 'alpaca',
        UNDERLYINGS: 'SPY',
        ALPACA_API_KEY_ID: KEY,
        ALPACA_API_SECRET_KEY: SECRET,
        ALPACA_TRADING_URL: peer.httpUrl,
        ALPACA_DATA_URL: peer.httpUrl,
        ALPACA_STREAM_URL: peer.wsUrl,
        CHAIN_STRIKES_PER_EXPIRY: '2',
        CHAIN_SNAPSHOT_INTERVAL_MS: '200ms',
      },
      optionsCollectorConfigIssues,
    );
    const connection = kafkaConnection(config, `collector-it-${instance}`);
    app = await NestFactory.create(AppModule.forRoot(config), { logger: false });
    await app.listen(0, '127.0.0.1');
    baseUrl = await app.getUrl();
    const admin = new ClusterAdmin(connection);
    try {
      await eventually(async () => {
        const topics = new Set(await admin.listTopics());
        return READ_TOPICS.every((topic) => topics.has(topic));
      }, 'catalog topics');
      // Asked once their partitions have leaders: the reader takes its start positions from them.
      for (const topic of READ_TOPICS) await admin.topicOffsets(topic);
    } finally {
      await admin.close();
    }
    // The reader starts at the end of the topics as it is now (they are shared with other runs);
    // once `start` resolves, everything this test makes the service publish is read.
    reader = new TopicReader(connection, {
      topics: READ_TOPICS,
      from: 'latest',
      handle: ({ topic, records }) => {
        for (const record of records) {
          if (recordHeader(record, HEADERS.producer) !== `options-collector/${instance}`) continue;
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
    await peer?.stop();
  });

  it('selects the chain, subscribes it on the option stream and publishes live quotes with their exact nanoseconds', async () => {
    await eventually(() => peer.live('v1beta1/indicative')[0]?.subscriptions.has(atTheMoney), 'chain subscribed');
    const subscribed = [...peer.live('v1beta1/indicative')[0].subscriptions];
    expect(subscribed).toHaveLength(4);

    const ts = `${nanosFromMillis(Date.now()).slice(0, -6)}123457`;
    peer.publish('v1beta1/indicative', [optionQuoteMessage(atTheMoney, ts, { bp: 8.1, bs: 3, ap: 8.3, as: 4 })]);
    // A later underlying quote crosses a snapshot boundary of event time.
    const later = nanosFromMillis(Date.now() + 400);
    peer.publish('v2/iex', [stockQuoteMessage('SPY', later, { bp: 500.01, ap: 500.03 })]);

    const quote = await awaitRecord(
      received,
      (record) => record.topic === 'options.quotes' && JSON.parse(record.value).ts === ts,
      'the live quote on options.quotes',
    );
    expect(quote.key).toBe('SPY');
    expect(quote.headers[HEADERS.eventTime]).toBe(ts);
    expect(JSON.parse(quote.value)).toMatchObject({ symbol: atTheMoney, underlying: 'SPY', bidPrice: 8.1, askPrice: 8.3, expiration });

    const snapshot = await awaitRecord(
      received,
      (record) =>
        record.topic === 'options.chains' &&
        (JSON.parse(record.value) as { contracts: { symbol: string; iv?: number }[] }).contracts.some(
          (row) => row.symbol === atTheMoney && row.iv !== undefined,
        ),
      'a chain snapshot with the IV of the quoted contract',
    );
    expect(validateEvent('options.chains', JSON.parse(snapshot.value), { nowMs: Date.now() }).ok).toBe(true);
    expect(snapshot.headers[HEADERS.schemaVersion]).toBe('2');
    const row = (
      JSON.parse(snapshot.value) as { contracts: { symbol: string; openInterest?: number; vendor?: unknown }[] }
    ).contracts.find((item) => item.symbol === atTheMoney);
    expect(row?.openInterest).toBe(250);
    // The vendor's own IV and Greeks travel next to the ones computed here (OptionChainSnapshot v2).
    expect(row?.vendor).toEqual({ source: 'alpaca', iv: 0.19, greeks: { delta: 0.51 } });
  });

  it('shows the Alpaca connection on GET /status and the vendor Greeks on GET /chains/SPY', async () => {
    const status = (await (await authorizedFetch(`${baseUrl}/status`)).json()) as {
      source: string;
      connection: { state: string; contractsListed: number; streams: Record<string, { state: string; confirmed: number }> };
    };
    expect(status.source).toBe('alpaca');
    expect(status.connection).toMatchObject({ state: 'streaming', contractsListed: 10 });
    expect(status.connection.streams['options']).toMatchObject({ state: 'streaming', confirmed: 4 });
    expect(JSON.stringify(status)).not.toContain(SECRET);

    const chain = (await (await authorizedFetch(`${baseUrl}/chains/SPY`)).json()) as { contracts: { symbol: string; vendor?: unknown }[] };
    expect(chain.contracts.find((item) => item.symbol === atTheMoney)?.vendor).toEqual({ source: 'alpaca', iv: 0.19, greeks: { delta: 0.51 } });
  });
});
