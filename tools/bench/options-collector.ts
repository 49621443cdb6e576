// The options collector's publish rate through the real broker, against the simulator alone.
//
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/options-collector.ts
//
// Three runs on the same market (seed, default underlyings and chain selection, simulator as fast as
// possible), each for RUN_SECONDS:
//   1. baseline: the simulator generating events, nothing else;
//   2. the collector in process with a producer that acknowledges at once (validation, chain book,
//      selection, snapshots with IV and Greeks, flow detection: everything but Kafka);
//   3. the collector publishing through the real local broker (tools/infra/up), acks=all.
// Run 3 writes to its own topics (bench-<id>.<catalog topic>), deleted at the end.
// Results go to bench-results/options-collector.json.

import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOG, dlqSpecOf, type TopicName, type TopicSpec } from '@tributary/contracts';
import { createKafka, ensureTopics, kafkaEnv, TypedProducer } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { parseEnv } from '@tributary/config';
import { OptionsCollector, type OptionsCollectorOptions } from '../../apps/options-collector/src/collector/options-collector';
import { MarketSimulator } from '../../apps/options-collector/src/simulator/market-simulator';
import { DEFAULT_FLOW_DETECTION } from '../../apps/options-collector/src/chain/flow-detector';

const RUN_SECONDS = Number(process.env['BENCH_SECONDS'] ?? 15);
const SEED = 'bench';
const UNDERLYINGS = ['SPY', 'QQQ', 'AAPL', 'TSLA', 'NVDA'];
const COLLECTED_TOPICS = ['market.quotes', 'market.trades', 'options.quotes', 'options.trades', 'options.chains', 'options.flow'] as const;

const options: OptionsCollectorOptions = {
  underlyings: UNDERLYINGS,
  selection: { strikesPerExpiration: 10, maxDaysToExpiry: 30, maxContracts: 1000 },
  snapshotIntervalMs: 1000,
  riskFreeRate: 0.045,
  flow: DEFAULT_FLOW_DETECTION,
  maxBatchesInFlight: Number(process.env['BENCH_BATCHES_IN_FLIGHT'] ?? 2),
};

function simulator(): MarketSimulator {
  return new MarketSimulator({ seed: SEED, pace: 'as-fast-as-possible', eventsPerSecond: 20_000, riskFreeRate: 0.045 });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Events the simulator generates per second with the collector's subscriptions, and nothing else. */
async function baseline(subscriptions: readonly string[]): Promise<number> {
  const source = simulator();
  await source.subscribe(subscriptions);
  source.generate(10_000); // warm-up
  let events = 0;
  const start = performance.now();
  while (performance.now() - start < RUN_SECONDS * 1000) events += source.generate(1_000).length;
  return events / ((performance.now() - start) / 1000);
}

interface CollectorRun {
  eventsPerSecond: number;
  recordsPerSecond: number;
  published: Record<string, number>;
  subscriptions: string[];
  latencyMs?: { mean: number; batches: number };
}

/** Publishes through `producer` for RUN_SECONDS and counts what was acknowledged. */
async function runCollector(producer: TypedProducer): Promise<CollectorRun> {
  const source = simulator();
  const latencies: number[] = [];
  const collector = new OptionsCollector(source, producer, {
    ...options,
    metrics: {
      sourceToPublish: { observe: (seconds: number) => latencies.push(seconds * 1000) },
      updates: { inc: () => undefined },
      updatesPerSecond: { set: () => undefined },
      activeContracts: { set: () => undefined },
      reconnects: { inc: () => undefined },
      invalidRecords: { inc: () => undefined },
    } as never,
  });
  collector.start();
  await collector.started();
  await sleep(2_000); // warm-up: selection settles, JIT
  const before = collector.status().published;
  const start = performance.now();
  await sleep(RUN_SECONDS * 1000);
  const after = collector.status().published;
  const seconds = (performance.now() - start) / 1000;
  const subscriptions = [...source.subscriptions()];
  await collector.stop();
  const published: Record<string, number> = {};
  let market = 0;
  let records = 0;
  for (const topic of COLLECTED_TOPICS) {
    published[topic] = (after[topic] ?? 0) - (before[topic] ?? 0);
    records += published[topic];
    if (topic.startsWith('market.') || topic === 'options.quotes' || topic === 'options.trades') market += published[topic];
  }
  const mean = latencies.length ? latencies.reduce((sum, value) => sum + value, 0) / latencies.length : 0;
  return {
    eventsPerSecond: market / seconds,
    recordsPerSecond: records / seconds,
    published,
    subscriptions,
    latencyMs: { mean: Math.round(mean * 100) / 100, batches: latencies.length },
  };
}

/** A producer that acknowledges at once: the collector's own cost. */
function instantProducer(): TypedProducer {
  return {
    producerId: 'options-collector/bench',
    connect: async () => undefined,
    send: async () => undefined,
    sendRaw: async () => undefined,
  } as unknown as TypedProducer;
}

/** The real TypedProducer, writing each catalog topic under a bench prefix. */
function prefixedProducer(producer: TypedProducer, prefix: string): TypedProducer {
  const specs = new Map<string, TopicSpec>();
  const specOf = (topic: string): TopicSpec => {
    let spec = specs.get(topic);
    if (!spec) {
      spec = { ...CATALOG[topic as TopicName], topic: `${prefix}.${topic}` } as TopicSpec;
      specs.set(topic, spec);
    }
    return spec;
  };
  return {
    producerId: producer.producerId,
    connect: () => producer.connect(),
    send: (topic: string, events: never) => producer.sendTo(specOf(topic), events),
    sendRaw: (topic: string, messages: never) => producer.sendRaw(`${prefix}.${topic}`, messages),
  } as unknown as TypedProducer;
}

async function main(): Promise<void> {
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const config = parseEnv(kafkaEnv, { KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092' });
  const logger = createLogger('options-collector-bench', 'warn');
  const kafka = createKafka(config, 'options-collector-bench', logger);
  const specs: TopicSpec[] = [];
  for (const topic of COLLECTED_TOPICS) {
    const spec = { ...CATALOG[topic], topic: `${prefix}.${topic}` } as TopicSpec;
    specs.push(spec, { ...dlqSpecOf(CATALOG[topic] as TopicSpec), topic: `${prefix}.${topic}.dlq` } as TopicSpec);
  }
  await ensureTopics(kafka, specs);
  const producer = new TypedProducer(kafka, { service: 'options-collector', instanceId: 'bench', logger, validate: true });
  try {
    console.log(`options-collector benchmark: ${RUN_SECONDS} s per run, seed "${SEED}", ${UNDERLYINGS.join(',')}`);
    const inProcess = await runCollector(instantProducer());
    console.log(`collector, no broker:      ${Math.round(inProcess.eventsPerSecond).toLocaleString('en')} market events/s`);
    const broker = await runCollector(prefixedProducer(producer, prefix));
    console.log(
      `collector, real broker:    ${Math.round(broker.eventsPerSecond).toLocaleString('en')} market events/s ` +
        `(${Math.round(broker.recordsPerSecond).toLocaleString('en')} records/s with snapshots and flows; ` +
        `mean source-to-ack ${broker.latencyMs?.mean} ms over ${broker.latencyMs?.batches} batches)`,
    );
    const generated = await baseline(broker.subscriptions);
    console.log(`baseline, simulator alone: ${Math.round(generated).toLocaleString('en')} events/s generated`);
    console.log(`publish rate / generation rate: ${((broker.eventsPerSecond / generated) * 100).toFixed(1)}%`);
    const results = {
      runSeconds: RUN_SECONDS,
      subscriptions: broker.subscriptions.length,
      baselineSimulatorEventsPerSecond: Math.round(generated),
      collectorNoBrokerEventsPerSecond: Math.round(inProcess.eventsPerSecond),
      collectorBrokerEventsPerSecond: Math.round(broker.eventsPerSecond),
      collectorBrokerRecordsPerSecond: Math.round(broker.recordsPerSecond),
      publishedThroughBroker: broker.published,
      meanSourceToAckMs: broker.latencyMs?.mean,
      ratioToBaseline: Math.round((broker.eventsPerSecond / generated) * 1000) / 1000,
      producerRequests: producer.stats.requests,
      producerRecords: producer.stats.records,
    };
    const directory = join(process.cwd(), 'bench-results');
    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, 'options-collector.json'), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: specs.map((spec) => spec.topic) }).catch(() => undefined);
    await admin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
