// The options collector's publish rate through the real broker, against the simulator alone.
//
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/options-collector.ts
//
// Runs on the same market (seed, default underlyings and chain selection, simulator as fast as
// possible), each for RUN_SECONDS (BENCH_SECONDS, default 15):
//   1. the collector in process with a producer that acknowledges at once (validation, chain book,
//      selection, snapshots with IV and Greeks, flow detection: everything but Kafka);
//   2. the collector publishing through the real local broker (tools/infra/up), acks=all, with one
//      producer, built as the service builds it (no second validation in the producer);
//   3. the same with a producer that validates every record again (how the service published before
//      it built its own producer: the same-run "before" of that change);
//   4. the same with BENCH_PRODUCERS (default 2) producers split by underlying;
//   5. baseline: the simulator generating events, nothing else.
// Besides events per wall second, each run reports records per CPU second of this process: on a
// machine shared with other work the wall rate follows the load, the CPU cost per record much less.
// The broker runs write to their own topics (bench-<id>.<catalog topic>), deleted at the end.
// Results go to bench-results/options-collector.json.

import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOG, dlqSpecOf, type TopicName, type TopicSpec } from '@tributary/contracts';
import { ClusterAdmin, ensureTopics, kafkaConnection, kafkaEnv, TypedProducer } from '@tributary/kafka';
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
  /** Records published per CPU second of this process (user + system). */
  recordsPerCpuSecond: number;
  /** Share of one core this process used. */
  cpuShare: number;
  published: Record<string, number>;
  subscriptions: string[];
  latencyMs?: { mean: number; batches: number };
}

/** Publishes through `producers` for RUN_SECONDS and counts what was acknowledged. */
async function runCollector(producers: TypedProducer | TypedProducer[]): Promise<CollectorRun> {
  const source = simulator();
  const latencies: number[] = [];
  const collector = new OptionsCollector(source, producers, {
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
  const cpuBefore = process.cpuUsage();
  await sleep(RUN_SECONDS * 1000);
  const after = collector.status().published;
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
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
    recordsPerCpuSecond: records / cpuSeconds,
    cpuShare: cpuSeconds / seconds,
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
  const connection = kafkaConnection(config, 'options-collector-bench');
  const specs: TopicSpec[] = [];
  for (const topic of COLLECTED_TOPICS) {
    const spec = { ...CATALOG[topic], topic: `${prefix}.${topic}` } as TopicSpec;
    specs.push(spec, { ...dlqSpecOf(CATALOG[topic] as TopicSpec), topic: `${prefix}.${topic}.dlq` } as TopicSpec);
  }
  await ensureTopics(connection, specs, { logger });
  const producerCount = Math.max(2, Number(process.env['BENCH_PRODUCERS'] ?? 2));
  // As the service builds them: the collector validates each record once, the producers do not.
  const producers = Array.from(
    { length: producerCount },
    () => new TypedProducer(connection, { service: 'options-collector', instanceId: 'bench', logger, validate: false }),
  );
  const show = (run: CollectorRun) =>
    `${Math.round(run.eventsPerSecond).toLocaleString('en')} market events/s ` +
    `(${Math.round(run.recordsPerSecond).toLocaleString('en')} records/s with snapshots and flows, ` +
    `${Math.round(run.recordsPerCpuSecond).toLocaleString('en')} records per CPU second, ${Math.round(run.cpuShare * 100)}% of a core` +
    (run.latencyMs && run.latencyMs.batches > 0 ? `; mean source-to-ack ${run.latencyMs.mean} ms over ${run.latencyMs.batches} batches)` : ')');
  try {
    console.log(`options-collector benchmark: ${RUN_SECONDS} s per run, seed "${SEED}", ${UNDERLYINGS.join(',')}`);
    const inProcess = await runCollector(instantProducer());
    console.log(`collector, no broker:                ${show(inProcess)}`);
    const broker = await runCollector(prefixedProducer(producers[0], prefix));
    console.log(`collector, real broker, 1 producer:  ${show(broker)}`);
    const validating = new TypedProducer(connection, { service: 'options-collector', instanceId: 'bench', logger, validate: true });
    const twice = await runCollector(prefixedProducer(validating, prefix)).finally(() => validating.disconnect());
    console.log(`  ... validating again in the producer: ${show(twice)}`);
    const split = await runCollector(producers.map((producer) => prefixedProducer(producer, prefix)));
    console.log(`collector, real broker, ${producerCount} producers: ${show(split)}`);
    const generated = await baseline(broker.subscriptions);
    console.log(`baseline, simulator alone:           ${Math.round(generated).toLocaleString('en')} events/s generated`);
    console.log(`publish rate / generation rate: ${((broker.eventsPerSecond / generated) * 100).toFixed(1)}% (1 producer), ${((split.eventsPerSecond / generated) * 100).toFixed(1)}% (${producerCount})`);
    const round = (run: CollectorRun) => ({
      eventsPerSecond: Math.round(run.eventsPerSecond),
      recordsPerSecond: Math.round(run.recordsPerSecond),
      recordsPerCpuSecond: Math.round(run.recordsPerCpuSecond),
      cpuShare: Math.round(run.cpuShare * 100) / 100,
      meanSourceToAckMs: run.latencyMs?.mean,
      published: run.published,
      ratioToBaseline: Math.round((run.eventsPerSecond / generated) * 1000) / 1000,
    });
    const results = {
      runSeconds: RUN_SECONDS,
      subscriptions: broker.subscriptions.length,
      baselineSimulatorEventsPerSecond: Math.round(generated),
      collectorNoBroker: round(inProcess),
      collectorBrokerOneProducer: round(broker),
      collectorBrokerValidatingTwice: round(twice),
      [`collectorBroker${producerCount}Producers`]: round(split),
      producerRequests: producers.map((producer) => producer.stats.requests),
      producerRecords: producers.map((producer) => producer.stats.records),
    };
    const directory = join(process.cwd(), 'bench-results');
    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, 'options-collector.json'), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    for (const producer of producers) await producer.disconnect();
    const admin = new ClusterAdmin(connection);
    await admin.deleteTopics(specs.map((spec) => spec.topic)).catch(() => undefined);
    await admin.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
