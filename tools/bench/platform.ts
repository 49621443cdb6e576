// The platform benchmark: the five built services together, the simulator as the source, at the
// highest rate the whole pipeline sustains, against Kafka's own Java tools on the same broker.
//
//   npm run bench      (tools/dev/bench: installs, brings the infrastructure up, builds, then runs this)
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/platform.ts   (built services, infrastructure up)
//
// Pipeline: simulator → options-collector → Kafka → kafka-gateway (quality onto
// market.trades.validated, 1 s/10 s/1 min candles, option quotes enriched with the underlying) →
// cep-engine (the rules of the cep.rules topic, alerts in transactions) and historical-data-manager
// (the topics `npm start` archives, Parquet on the S3 server, catalog in PostgreSQL). The
// cdc-listener runs beside them on a slot of its own; nothing writes to its tables, so it idles.
// The collector and the gateway have no topic prefix: the run uses the catalog's topics as
// `npm start` does, with consumer groups, CEP transactional ids, archive catalog and bucket
// (tributary-test) of its own, and tells its records from anyone else's by their `producer` header.
//
// 1. Ramp: the collector is started with SIMULATOR_EVENTS_PER_SECOND at one rate per step
//    (BENCH_RATES, or doubling from BENCH_START_RATE=1000 for at most BENCH_MAX_STEPS=5 steps, then one
//    step between the best and the first failed rate), BENCH_WARMUP_SECONDS (5) then BENCH_STEP_SECONDS
//    (30) measured. The setting is arrivals per second of event time, an arrival one or more market
//    events (an option trade with its quote, sweep legs, the scripted episodes' prints): the collector
//    publishes some 12-22% more events than it. The run keeps a simulated clock of its own
//    (SIMULATOR_RESUME=false, from a 2025 session open, each restart after the last event time the
//    previous collector published): resuming from the shared market.quotes can put the clock at the
//    wall clock, where every event after the close is a future time and goes to the DLQ.
//    Sustained = the collector published at least 95% of the events its simulator generated
//    (published + dead-lettered) and the simulated clock advanced at least 0.95 s per wall second
//    (else the collector held the simulator back); no consumer group (gateway quality and
//    enrichment, CEP, archive) had a lag whose least-squares trend over the window grew by more than
//    max(BENCH_MAX_BEHIND_SECONDS=2, 5% of the window, its median lag above its lowest) seconds of input, nor was ever
//    more than 15 s of input behind (the archive commits after each flush: its lag is a sawtooth,
//    judged by its trend over many cycles, not by two points of it); and the 1 s candles did not come
//    out later by more than that tolerance (their group commits behind open windows on purpose).
// 2. BENCH_SUSTAIN_SECONDS (180) at the highest sustained rate, sampled every BENCH_SAMPLE_SECONDS (1).
// 3. Ceiling: ProducerPerformance then ConsumerPerformance, BENCH_CEILING_RECORDS (2,000,000) records of
//    the collector's mean value size (measured from its records), acks=all, idempotent, lz4 as the
//    collector's topics, 12 partitions, on a fresh topic, after the services have stopped.
// A quick check: BENCH_RATES=2000,4000 BENCH_STEP_SECONDS=30 BENCH_SUSTAIN_SECONDS=20 BENCH_CEILING_RECORDS=300000.
//
// Measured from outside (the services are run as built, not changed): throughput from each service's
// /metrics and the archive catalog; consumer lag from end and committed offsets (ClusterAdmin);
// latency from records read back without a group (TopicReader) against when the collector published
// the event they derive from (see PublishClock); CPU from /proc/<pid>/stat of every process.
// Results: bench-results/platform.json and bench-results/platform.html (charts as inline SVG).
// Everything the run created (topics, groups, slot, schemas, archive objects) is removed at the end;
// the infrastructure is left running.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { mergeSpecs, parseEnv, postgresEnv, s3Env } from '@tributary/config';
import { CATALOG } from '@tributary/contracts';
import { ClusterAdmin, kafkaConnection, kafkaEnv } from '@tributary/kafka';
import { createLogger, createS3Client } from '@tributary/observability';
import { readInfraEnv, workspaceRoot } from '@tributary/testing';
import { Client } from 'pg';
import { type BenchConfig, benchConfigFromEnv, type RunNames, runNames } from './platform/bench-config';
import {
  collectorRecordSizes,
  consumerPerformance,
  producerPerformance,
  type RecordSizes,
} from './platform/kafka-ceiling';
import { samplesBetween } from './platform/pipeline-rates';
import { log, PlatformRun, type RunContext } from './platform/platform-run';
import { METHOD, type PlatformResult, renderHtml, seriesOf, summaryLines } from './platform/platform-report';
import { PlatformServices } from './platform/platform-services';
import { cleanUpRun } from './platform/run-cleanup';
import { ceilingRatios, sustainedFigures } from './platform/sustained-figures';

const CEILING_PARTITIONS = 12;
const ceilingGroupOf = (names: RunNames) => `${names.runId}-ceiling`;

/** Everything this benchmark sends goes to this machine: refuse endpoints elsewhere before starting anything. */
function assertLoopback(endpoints: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(endpoints)) {
    const hosts = value
      .split(',')
      .map((entry) => new URL(/^[a-z]+:\/\//.test(entry) ? entry : `tcp://${entry}`).hostname);
    if (!hosts.every((host) => host === '127.0.0.1' || host === 'localhost' || host === '[::1]')) {
      throw new Error(
        `${name}=${value}: the platform benchmark runs against the local infrastructure (127.0.0.1) only`,
      );
    }
  }
}

/** The Java tools on a fresh topic of the same broker, with records of the collector's mean value size. */
async function measureCeiling(
  config: BenchConfig,
  names: RunNames,
  admin: ClusterAdmin,
  brokers: string,
  sizes: RecordSizes,
): Promise<PlatformResult['ceilings']> {
  // The compression of the topics most of the collector's records go to.
  const compression =
    CATALOG['options.quotes'].compression === 'producer' ? 'none' : CATALOG['options.quotes'].compression;
  const topic = `${names.topicPrefix}ceiling`;
  await admin.ensureConfigs([{ topic, numPartitions: CEILING_PARTITIONS }]);
  log(
    `ceiling: ProducerPerformance, ${config.ceilingRecords.toLocaleString('en')} records of ${sizes.meanValueBytes} bytes (${compression})`,
  );
  const producer = await producerPerformance(
    brokers,
    topic,
    config.ceilingRecords,
    sizes.meanValueBytes,
    compression,
  );
  log('ceiling: ConsumerPerformance over the same records');
  const consumer = await consumerPerformance(brokers, topic, config.ceilingRecords, ceilingGroupOf(names));
  return {
    topic,
    records: config.ceilingRecords,
    valueBytes: sizes.meanValueBytes,
    compression,
    producer,
    consumer,
  };
}

async function benchmark(
  config: BenchConfig,
  names: RunNames,
  context: RunContext,
  brokers: string,
): Promise<PlatformResult> {
  const rates =
    config.rates.length > 0 ? `rates ${config.rates.join(', ')}` : `doubling from ${config.startRate}`;
  log(
    `run ${names.runId}: ${rates} events/s, ${config.stepSeconds} s per step, ${config.sustainSeconds} s sustained`,
  );
  const run = new PlatformRun(config, names, context);
  try {
    await run.prepare();
    const { steps, rate, sustainedInRamp } = await run.ramp();
    const { verdict, writtenPerTopic } = await run.sustain(rate);
    await run.windDown();

    log('measuring the collector record sizes, then stopping the services');
    const recordSizes = await collectorRecordSizes(
      context.connection,
      context.admin,
      run.producers.collector,
      writtenPerTopic,
      context.logger,
    );
    await context.services.stopAll();
    const ceilings = await measureCeiling(config, names, context.admin, brokers, recordSizes);

    const fromMs = run.startMs + verdict.fromS * 1000;
    const toMs = run.startMs + verdict.toS * 1000;
    const figures = sustainedFigures(
      samplesBetween(run.samples, fromMs, toMs),
      run.groups,
      run.latencies,
      fromMs,
      toMs,
    );
    const gatewayGroups = run.groups
      .filter((watch) => watch.group.startsWith(names.groupOf('kafka-gateway')))
      .map((watch) => watch.group);
    return {
      at: new Date().toISOString(),
      runId: names.runId,
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryGb: Math.round(totalmem() / 2 ** 30),
        kernel: release(),
        node: process.version,
        kafka: process.env['KAFKA_VERSION'],
        loadAverageAtEnd: loadavg().map((load) => Math.round(load * 100) / 100),
      },
      config,
      cepRules: run.rules.map((rule) => ({ id: rule.id, inputs: rule.inputs, placement: rule.placement })),
      groups: run.groups,
      steps,
      sustained: { rate, sustainedInRamp, verdict, ...figures },
      series: { phases: run.phases, ...seriesOf(run.samples, run.startMs, run.groups) },
      recordSizes,
      ceilings,
      ratios: ceilingRatios(figures, gatewayGroups, ceilings.producer, ceilings.consumer),
      latencySamplesUnresolved: run.latencies.unresolvedCount,
      method: METHOD,
    };
  } finally {
    await run.stopObserving();
  }
}

async function main(): Promise<void> {
  Object.assign(process.env, { ...readInfraEnv(), ...process.env });
  const config = benchConfigFromEnv();
  const names = runNames();
  const infra = parseEnv(mergeSpecs(kafkaEnv, postgresEnv, s3Env), process.env);
  const brokers = infra.KAFKA_BROKERS.join(',');
  assertLoopback({
    KAFKA_BROKERS: brokers,
    DATABASE_URL: infra.DATABASE_URL,
    S3_ENDPOINT: infra.S3_ENDPOINT,
  });
  const logger = createLogger('platform-bench', 'warn');
  const connection = kafkaConnection(infra, 'platform-bench');
  const admin = new ClusterAdmin(connection, { logger });
  const catalog = new Client({ connectionString: infra.DATABASE_URL });
  await catalog.connect();
  const s3 = createS3Client(infra);
  const services = new PlatformServices(names, config);
  let cleaning: Promise<void> | undefined;
  const cleanUpOnce = () =>
    (cleaning ??= cleanUpRun({ names, services, admin, catalog, s3, extraGroups: [ceilingGroupOf(names)] }));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`[bench] ${signal}: stopping the services and removing what the run created`);
      void cleanUpOnce().finally(() => process.exit(130));
    });
  }
  try {
    const result = await benchmark(config, names, { connection, admin, catalog, services, logger }, brokers);
    const directory = join(workspaceRoot, 'bench-results');
    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, 'platform.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(directory, 'platform.html'), renderHtml(result));
    for (const line of summaryLines(result)) console.log(line);
    console.log(`\nresults: ${join(directory, 'platform.json')}, chart: ${join(directory, 'platform.html')}`);
  } finally {
    await cleanUpOnce();
    await admin.close();
    await catalog.end();
    s3.destroy();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
