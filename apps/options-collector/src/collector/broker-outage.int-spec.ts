import { randomUUID } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CATALOG, HEADERS } from '@tributary/contracts';
import { connectionsConnectsChannel } from '@platformatic/kafka';
import { ClusterAdmin, KAFKA_CONNECTION, kafkaConnection, recordHeader, TopicReader } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { parseEnv } from '@tributary/config';
import { TEST_AUTH_API_KEYS, authorizedFetch, eventually, TcpProxy } from '@tributary/testing';
import { AppModule } from '../app/app.module';
import { optionsCollectorEnv } from '../config';
import type { MarketSource } from '../simulator/market-source';
import { MARKET_SOURCE } from './collector.module';
import { OptionsCollector } from './options-collector';

const TOPICS = ['market.quotes', 'market.trades', 'options.quotes', 'options.trades', 'options.chains', 'options.flow'] as const;
const BROKER = { host: '127.0.0.1', port: Number((process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')[0].split(':')[1] ?? 9092) };
/** Events per source batch (the simulator's default) and batches the collector keeps unacknowledged (its default). */
const SOURCE_BATCH = 1_000;
const BATCHES_IN_FLIGHT = 2;
/**
 * Connection attempts the service makes while the broker is unreachable, during which the source must
 * stay held. The producer's and the collector's backoffs space them out by seconds. Every step of the outage is awaited far longer than it needs, so a busy
 * machine cannot fail the test.
 */
const ATTEMPTS_WHILE_HELD = 3;
const OUTAGE_STEP_WAIT_MS = 150_000;

/**
 * The service as `npm start` runs it (simulator), whose every connection to the real broker passes
 * through a TCP hop the test cuts for a while: a real network failure in front of the real broker.
 * Kafka advertises its own address in the metadata, so the service's connection rewrites every broker
 * address to the hop (its producers, topic check and health check all dial through it), not only the
 * bootstrap one.
 */
describe('options-collector through a broker outage', () => {
  const instance = `outage-${randomUUID().slice(0, 8)}`;
  const producerId = `options-collector/${instance}`;
  // A TCP hop between the service and the real broker, cut and restored by the test.
  const link = new TcpProxy(BROKER.host, BROKER.port);
  /** Distinct records of this run per topic, as a reader connected straight to the broker reads them. */
  const received = new Map<string, Set<string>>(TOPICS.map((topic) => [topic, new Set<string>()]));
  const receivedOn = (topic: string): Set<string> => received.get(topic) ?? new Set<string>();
  let reader: TopicReader;
  let app: INestApplication;
  let baseUrl: string;
  let collector: OptionsCollector;
  let delivered = 0;
  /** Connections the service's producer opened or tried to open through the link. */
  let dials = 0;
  const countDial = (context: unknown) => {
    if ((context as { port?: number }).port === link.port) dials++;
  };

  const ready = async () => (await authorizedFetch(`${baseUrl}/health/ready`)).status;
  const status = () => collector.status();
  const publishedTotal = () => Object.values(status().published).reduce((sum, count) => sum + count, 0);

  beforeAll(async () => {
    const config = parseEnv(optionsCollectorEnv, {
    AUTH_API_KEYS: TEST_AUTH_API_KEYS,
      KAFKA_BROKERS: `${BROKER.host}:${BROKER.port}`,
      INSTANCE_ID: instance,
      LOG_LEVEL: 'fatal',
      SIMULATOR_SEED: instance,
      SIMULATOR_EVENTS_PER_SECOND: '3000',
      CHAIN_SNAPSHOT_INTERVAL_MS: '500ms',
      KAFKA_CONNECTION_TIMEOUT_MS: '2s',
      KAFKA_REQUEST_TIMEOUT_MS: '5s',
    });
    const logger = createLogger('collector-outage-it', 'fatal');
    // Straight to the broker, not through the link: what the test reads is not cut with the service.
    const direct = kafkaConnection(config, `outage-it-${instance}`);
    const admin = new ClusterAdmin(direct);
    try {
      await admin.ensure(TOPICS.map((topic) => CATALOG[topic]));
      // Asked once every partition has a leader: the reader takes its start positions from them.
      for (const topic of TOPICS) await admin.topicOffsets(topic);
    } finally {
      await admin.close();
    }

    // Read this run's records from the end offsets of now on (the catalog topics are shared).
    reader = new TopicReader(direct, {
      topics: TOPICS,
      from: 'latest',
      handle: ({ topic, records }) => {
        const seen = receivedOn(topic);
        for (const record of records) {
          if (recordHeader(record, HEADERS.producer) === producerId) seen.add(record.value?.toString() ?? '');
        }
      },
      logger,
    });
    await reader.start();

    await link.open();
    connectionsConnectsChannel.start.subscribe(countDial);
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
      .overrideProvider(KAFKA_CONNECTION)
      .useValue({
        ...kafkaConnection(config, 'options-collector'),
        brokerAddress: () => ({ host: '127.0.0.1', port: link.port }),
      })
      .compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    baseUrl = await app.getUrl();
    collector = app.get(OptionsCollector);
    // Counts what the source hands over; it is called after the collector's own listener returns.
    app.get<MarketSource>(MARKET_SOURCE, { strict: false }).onEvents((events) => {
      delivered += events.length;
    });
  });

  afterAll(async () => {
    connectionsConnectsChannel.start.unsubscribe(countDial);
    await app?.close();
    await reader?.stop();
    await link.cut().catch(() => undefined);
  });

  it('goes unready while the broker is unreachable, holds the source with bounded memory, and resumes publishing by itself; nothing acknowledged is lost', async () => {
    await eventually(async () => (await ready()) === 200 && publishedTotal() > 5_000, 'publishing through the link', 90_000);

    await link.cut();
    await eventually(async () => (await ready()) === 503, '/health/ready 503 while the broker is unreachable');
    const body = (await (await authorizedFetch(`${baseUrl}/health/ready`)).json()) as { details?: { kafka?: { status: string } } };
    expect(body.details?.kafka?.status).toBe('down');

    // The source is held: what it hands over stops growing within a few batches, however long the outage.
    const publishedWhileDown = publishedTotal();
    // A send fails once the producer's own retries are spent (about 15 s when every dial fails).
    await eventually(() => status().state === 'retrying', 'the collector retrying its sends', OUTAGE_STEP_WAIT_MS);
    const heldAt = delivered;
    const dialsWhenHeld = dials;
    let largestInFlight = 0;
    await eventually(
      () => {
        largestInFlight = Math.max(largestInFlight, status().batchesInFlight);
        return dials >= dialsWhenHeld + ATTEMPTS_WHILE_HELD;
      },
      `${ATTEMPTS_WHILE_HELD} more attempts to reach the broker while it is unreachable`,
      OUTAGE_STEP_WAIT_MS,
    );
    expect(delivered - heldAt).toBeLessThanOrEqual((BATCHES_IN_FLIGHT + 1) * SOURCE_BATCH);
    expect(largestInFlight).toBeLessThanOrEqual(BATCHES_IN_FLIGHT);
    expect(publishedTotal()).toBe(publishedWhileDown);
    expect(['publishing', 'retrying']).toContain(status().state);

    await link.open();
    await eventually(async () => (await ready()) === 200, '/health/ready 200 once the broker is back', OUTAGE_STEP_WAIT_MS);
    await eventually(() => publishedTotal() > publishedWhileDown + 10_000, 'publishing resumed', OUTAGE_STEP_WAIT_MS);
    expect(status().state).toBe('publishing');
    expect(delivered).toBeGreaterThan(heldAt + SOURCE_BATCH);

    // Every record the broker acknowledged is in the topics (a retried, unacknowledged part may be there twice).
    await app.close();
    const acknowledged = status().published;
    await eventually(
      () => TOPICS.every((topic) => receivedOn(topic).size >= (acknowledged[topic] ?? 0)),
      'every acknowledged record read back',
      60_000,
    ).catch((error: unknown) => {
      const counts = TOPICS.map((topic) => `${topic}: ${receivedOn(topic).size} read, ${acknowledged[topic] ?? 0} acknowledged`);
      throw new Error(`${(error as Error).message}\n${counts.join('\n')}`);
    });
    for (const topic of TOPICS) expect(acknowledged[topic]).toBeGreaterThan(0);
  }, 900_000);
});
