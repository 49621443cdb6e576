import { join } from 'node:path';
import { CATALOG, type TopicSpec } from '@tributary/contracts';
import { type ClusterAdmin, ensureTopics, type KafkaConnection } from '@tributary/kafka';
import { authorizedFetch, commitEndOffsets, infraDir } from '@tributary/testing';
import type { Client } from 'pg';
import type { Logger } from 'pino';
import { archiveSourceTopics, type BenchConfig, type RunNames } from './bench-config';
import { DownstreamReaders, type RunProducers } from './downstream-readers';
import { samplesBetween } from './pipeline-rates';
import { COLLECTED_TOPICS, type GroupWatch, PipelineSampler, type Sample } from './pipeline-sampler';
import type { Phase, StepResult } from './platform-report';
import type { PlatformServices } from './platform-services';
import { pidFromFile } from './process-cpu';
import { PrometheusText } from './prometheus-text';
import { PublishClock } from './publish-clock';
import { judgeWindow, RateSearch } from './rate-ramp';
import { StageLatencies } from './stage-latencies';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const log = (line: string) => console.log(`[bench] ${line}`);

/** A rule as the CEP engine's GET /patterns lists it. */
export interface CepRule {
  readonly id: string;
  readonly enabled: boolean;
  readonly running: boolean;
  readonly inputs: readonly string[];
  readonly placement: string;
}

export interface RunContext {
  readonly connection: KafkaConnection;
  readonly admin: ClusterAdmin;
  readonly catalog: Client;
  readonly services: PlatformServices;
  readonly logger: Logger;
}

/** The catalog topics the pipeline reads and writes, whose offsets the run reads. */
const PIPELINE_TOPICS = [
  ...COLLECTED_TOPICS,
  'market.trades.validated',
  'options.quotes.enriched',
  'candles.1s',
  'candles.10s',
  'candles.1m',
  'cep.alerts',
];

/**
 * The services running together with the run's observers (readers and sampler): prepared once, then
 * driven through the ramp and the sustained run, each a phase with the collector at one rate.
 */
export class PlatformRun {
  readonly clock = new PublishClock();
  readonly latencies = new StageLatencies();
  readonly phases: Phase[] = [];
  readonly producers: RunProducers;
  rules: readonly CepRule[] = [];
  groups: readonly GroupWatch[] = [];
  /** When sampling started: the zero of every time in the results. */
  startMs = 0;
  private readers?: DownstreamReaders;
  private sampler?: PipelineSampler;

  constructor(
    private readonly config: BenchConfig,
    private readonly names: RunNames,
    private readonly context: RunContext,
  ) {
    this.producers = {
      collector: `options-collector/${names.instanceId}`,
      gateway: `kafka-gateway/${names.instanceId}`,
      cep: `cep-engine/${names.instanceId}`,
    };
  }

  get samples(): readonly Sample[] {
    return this.sampler?.samples ?? [];
  }

  /** Seconds since sampling started. */
  secondsAt(ms: number): number {
    return Math.round((ms - this.startMs) / 100) / 10;
  }

  /** Topics and group positions in place, the consumers started and ready, the observers following. */
  async prepare(): Promise<void> {
    const { connection, admin, catalog, services, logger } = this.context;
    // Created as the services would create them when missing; existing ones are not touched.
    const topics = [...new Set([...PIPELINE_TOPICS, ...archiveSourceTopics(this.config)])];
    const specs = topics.flatMap((topic) =>
      topic in CATALOG ? [CATALOG[topic as keyof typeof CATALOG] as TopicSpec] : [],
    );
    await ensureTopics(connection, specs, { logger });
    // New groups start at the topics' ends; the archive would otherwise read all the history the shared topics retain.
    const gateway = this.names.groupOf('kafka-gateway');
    for (const [group, groupTopics] of [
      [`${gateway}-quality`, ['market.trades']],
      [`${gateway}-candles`, ['market.trades']],
      [`${gateway}-enrichment`, ['options.quotes', 'market.quotes']],
      [this.names.groupOf('historical-data-manager'), archiveSourceTopics(this.config)],
    ] as const) {
      await commitEndOffsets(admin, group, groupTopics);
    }
    log('starting kafka-gateway, cdc-listener, cep-engine and historical-data-manager');
    await services.startConsumers();
    const listed = (await (await authorizedFetch(`${services.baseUrl('cep-engine')}/patterns`)).json()) as {
      patterns: CepRule[];
    };
    this.rules = listed.patterns.filter((rule) => rule.enabled);
    this.groups = await this.groupsToWatch();

    this.readers = new DownstreamReaders(connection, this.producers, this.clock, this.latencies, logger);
    await this.readers.start();
    this.sampler = new PipelineSampler({
      admin,
      services,
      readers: this.readers,
      clock: this.clock,
      latencies: this.latencies,
      catalog,
      archiveSchema: this.names.archiveSchema,
      groups: this.groups,
      infraPids: {
        'kafka broker': pidFromFile(join(infraDir(), 'kafka', 'kafka.pid')),
        's3 server': pidFromFile(join(infraDir(), 's3', 's3.pid')),
      },
      intervalMs: this.config.sampleSeconds * 1000,
      logger,
    });
    await this.sampler.start();
    this.startMs = Date.now();
    // A few samples of the platform idle before the first step.
    await sleep(2 * this.config.sampleSeconds * 1000);
  }

  /** The ramp of rates (RateSearch); the rate for the sustained run and whether a step sustained it. */
  async ramp(): Promise<{ steps: StepResult[]; rate: number; sustainedInRamp: boolean }> {
    const steps: StepResult[] = [];
    const search = new RateSearch(this.config);
    for (let rate = search.next(); rate !== undefined; rate = search.next()) {
      log(`step ${steps.length + 1}: simulator at ${rate.toLocaleString('en')} arrivals/s`);
      const step = await this.phase(`${rate}/s`, rate, this.config.stepSeconds);
      steps.push(step);
      search.report(rate, step.sustained);
      log(
        `  simulator generated ${Math.round(step.offeredPerSecond ?? 0).toLocaleString('en')} events/s ` +
          `(event time ${step.eventTimePace?.toFixed(2) ?? '?'} s per wall s), collector published ` +
          `${Math.round(step.marketEventsPerSecond ?? 0).toLocaleString('en')} events/s ` +
          `(${Math.round(step.recordsPerSecond ?? 0).toLocaleString('en')} records/s); ` +
          `archive lag trend ${step.groups.find((group) => group.label === 'archive')?.behindSeconds?.toFixed(1) ?? '?'} s; ` +
          `${step.sustained ? 'every stage kept up' : `not sustained: ${step.reasons.join('; ')}`}`,
      );
      await this.context.services.stop('options-collector');
      await this.settle();
    }
    const best = search.best;
    return { steps, rate: best ?? (search.lowest as number), sustainedInRamp: best !== undefined };
  }

  /** The sustained run; also what the collector wrote per topic in it (the weights of its mean record size). */
  async sustain(rate: number): Promise<{ verdict: StepResult; writtenPerTopic: Record<string, number> }> {
    log(
      `sustained run: simulator at ${rate.toLocaleString('en')} arrivals/s for ${this.config.sustainSeconds} s`,
    );
    const verdict = await this.phase('sustained', rate, this.config.sustainSeconds);
    const metrics = PrometheusText.parse(
      await (await fetch(`${this.context.services.baseUrl('options-collector')}/metrics`)).text(),
    );
    const writtenPerTopic = Object.fromEntries(
      COLLECTED_TOPICS.map((topic) => [
        topic,
        metrics.sum('tributary_kafka_messages_produced_total', (labels) => labels['topic'] === topic),
      ]),
    );
    log(
      `  collector published ${Math.round(verdict.marketEventsPerSecond ?? 0).toLocaleString('en')} of ` +
        `${Math.round(verdict.offeredPerSecond ?? 0).toLocaleString('en')} events/s generated; ` +
        `${verdict.sustained ? 'every stage kept up' : `not kept up: ${verdict.reasons.join('; ')}`}; letting the consumers finish`,
    );
    return { verdict, writtenPerTopic };
  }

  /** Stops the source, lets the consumers finish what it wrote, then stops observing. */
  async windDown(): Promise<void> {
    await this.context.services.stop('options-collector');
    await this.settle();
    await this.stopObserving();
    this.latencies.resolve(this.clock, 0, true);
  }

  /** Stops the sampler and the readers (also when the run is cut short). */
  async stopObserving(): Promise<void> {
    await this.sampler?.stop();
    await this.readers?.stop();
  }

  /** The collector at `rate` for `seconds` after the warm-up, and the verdict of the measured window. */
  private async phase(name: string, rate: number, seconds: number): Promise<StepResult> {
    const { services } = this.context;
    await services.startCollector(rate);
    await sleep(this.config.warmupSeconds * 1000);
    const fromMs = Date.now();
    while (Date.now() - fromMs < seconds * 1000) {
      await sleep(Math.min(1000, seconds * 1000 - (Date.now() - fromMs)));
      services.assertAlive();
    }
    const toMs = Date.now();
    const [fromS, toS] = [this.secondsAt(fromMs), this.secondsAt(toMs)];
    this.phases.push({ name, fromS, toS });
    this.latencies.resolve(this.clock, 1_000);
    const candleGrowth = this.latencies.medianGrowth('gateway-candles', fromMs, toMs);
    return {
      ...judgeWindow(
        samplesBetween(this.samples, fromMs, toMs),
        rate,
        this.groups,
        candleGrowth,
        this.config,
      ),
      fromS,
      toS,
    };
  }

  /** After the collector stopped: until no group's lag goes down any more (they worked off what they could), at most settleSeconds. */
  private async settle(): Promise<void> {
    const deadline = Date.now() + this.config.settleSeconds * 1000;
    await sleep(3_000);
    while (Date.now() < deadline) {
      const samples = this.samples;
      const now = samples[samples.length - 1];
      const before = now && [...samples].reverse().find((sample) => sample.atMs <= now.atMs - 3_000);
      const draining = (watch: GroupWatch) =>
        (now?.groups[watch.group]?.lag ?? 0) < (before?.groups[watch.group]?.lag ?? 0);
      if (now && before && !this.groups.some(draining)) return;
      await sleep(1_000);
    }
  }

  /** The consumer groups whose lag says whether each stage keeps up. */
  private async groupsToWatch(): Promise<GroupWatch[]> {
    const gateway = this.names.groupOf('kafka-gateway');
    const cep = this.names.groupOf('cep-engine');
    const existing = new Set(await this.context.admin.listTopics());
    // Inputs of the running rules that exist on this broker (a rule over CDC or news topics nobody writes here reads nothing).
    const inputsOf = (placement: string) =>
      [
        ...new Set(
          this.rules
            .filter((rule) => rule.running && rule.placement === placement)
            .flatMap((rule) => rule.inputs),
        ),
      ].filter((topic) => existing.has(topic));
    const judgedOnAll = (label: string, group: string, topics: readonly string[]): GroupWatch => ({
      group,
      label,
      topics,
      judgedTopics: topics,
    });
    const watches: GroupWatch[] = [
      judgedOnAll('gateway quality', `${gateway}-quality`, ['market.trades']),
      {
        group: `${gateway}-enrichment`,
        label: 'gateway enrichment',
        topics: ['options.quotes', 'market.quotes'],
        judgedTopics: ['options.quotes'],
      },
      { group: `${gateway}-candles`, label: 'gateway candles', topics: ['market.trades'], judgedTopics: [] },
      judgedOnAll('CEP (partitioned rules)', cep, inputsOf('partitioned')),
      judgedOnAll('CEP (global rules)', `${cep}.global`, inputsOf('global')),
      judgedOnAll('archive', this.names.groupOf('historical-data-manager'), archiveSourceTopics(this.config)),
    ];
    return watches.filter((watch) => watch.topics.length > 0);
  }
}
