import type { ClusterAdmin } from '@tributary/kafka';
import type { Client } from 'pg';
import type { Logger } from 'pino';
import type { DownstreamReaders } from './downstream-readers';
import type { PlatformServices, ServiceName } from './platform-services';
import { type CpuReading, machineBusySeconds, pidsNamed, readCpu } from './process-cpu';
import { type HistogramBucket, PrometheusText } from './prometheus-text';
import { nanosToMs, type PublishClock } from './publish-clock';
import type { StageLatencies } from './stage-latencies';

/** Throughput measured per stage, each as a cumulative count read from outside the services. */
export const THROUGHPUT_STAGES = {
  'collector-written': 'collector: records written',
  'collector-market-events': 'collector: market events written',
  'collector-dead-lettered': 'collector: simulated events dead-lettered',
  'gateway-validated': 'gateway: validated trades written',
  'gateway-enriched': 'gateway: enriched quotes written',
  'gateway-candles': 'gateway: candles written',
  'cep-read': 'CEP: input records processed',
  'cep-alerts': 'CEP: alerts committed',
  'archive-read': 'archive: records consumed',
  'archive-rows': 'archive: rows committed',
} as const;
export type ThroughputStage = keyof typeof THROUGHPUT_STAGES;

export const COLLECTED_TOPICS = [
  'market.quotes',
  'market.trades',
  'options.quotes',
  'options.trades',
  'options.chains',
  'options.flow',
] as const;
const MARKET_EVENT_TOPICS = new Set(['market.quotes', 'market.trades', 'options.quotes', 'options.trades']);
const CANDLE_TOPICS = new Set(['candles.1s', 'candles.10s', 'candles.1m']);

/** A consumer group of the run whose lag is followed. */
export interface GroupWatch {
  readonly group: string;
  readonly label: string;
  readonly topics: readonly string[];
  /**
   * The topics whose lag says whether the group keeps up. A processor that commits behind state it
   * holds on purpose is not judged on that topic: the candle group commits behind its oldest open
   * window (up to a minute of trades, rising and falling with the minute; the candles are judged by
   * their latency instead), the enrichment group behind the oldest underlying price it keeps.
   */
  readonly judgedTopics: readonly string[];
}

/** Where a group stands: records behind the ends of its topics, and the sum of those ends (its input so far). */
export interface GroupPosition {
  readonly lag: number;
  readonly ends: number;
  /** The same over its judged topics only. */
  readonly judgedLag: number;
  readonly judgedEnds: number;
}

/** One look at the whole pipeline. */
export interface Sample {
  readonly atMs: number;
  /** Cumulative counts; a stage is absent while its service is down or did not answer. */
  readonly counts: Partial<Record<ThroughputStage, number>>;
  /** Pid of the collector the counts came from: its counters start again at every restart. */
  readonly collectorPid?: number;
  /** The newest event time the collector published (epoch ms, its /status): how far its simulated clock has come. */
  readonly collectorEventMs?: number;
  /** The collector's own histogram of source batch to acknowledgement (cumulative). */
  readonly collectorSourceToAck?: readonly HistogramBucket[];
  readonly groups: Readonly<Record<string, GroupPosition>>;
  /** CPU seconds per pid, per process (a service, the broker, the S3 server, PostgreSQL, this script). */
  readonly cpu: Readonly<Record<string, CpuReading>>;
  readonly machineBusySeconds: number;
}

export interface SamplerOptions {
  readonly admin: ClusterAdmin;
  readonly services: PlatformServices;
  readonly readers: DownstreamReaders;
  readonly clock: PublishClock;
  readonly latencies: StageLatencies;
  readonly catalog: Client;
  readonly archiveSchema: string;
  readonly groups: readonly GroupWatch[];
  /** Processes this script did not start but whose CPU it reports (read from /proc only). */
  readonly infraPids: Readonly<Record<string, number | undefined>>;
  readonly intervalMs: number;
  readonly logger: Logger;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Samples the pipeline every interval from outside: each service's /metrics, the end offsets of
 * the topics and the committed offsets of the run's groups, the archive catalog in PostgreSQL, and
 * /proc for the CPU of every process involved. Also hands the archive's new files to the latency
 * samples and resolves the latency samples that wait for the publish clock.
 */
export class PipelineSampler {
  readonly samples: Sample[] = [];
  private loop?: Promise<void>;
  private stopping = false;
  /** End offsets when sampling started: where a group stands on a partition it has not committed yet. */
  private readonly startEnds = new Map<string, Map<number, bigint>>();
  private lastFileId = 0;
  private archiveRows = 0;

  constructor(private readonly options: SamplerOptions) {}

  async start(): Promise<void> {
    for (const topic of this.topics()) this.startEnds.set(topic, await this.endsOf(topic));
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const started = Date.now();
      try {
        this.samples.push(await this.take());
      } catch (error) {
        this.options.logger.warn({ err: error }, 'a sample failed; the next one follows');
      }
      // One second of event time past a record is enough for every partition's trades before it to be read.
      this.options.latencies.resolve(this.options.clock, 1_000);
      await sleep(Math.max(0, this.options.intervalMs - (Date.now() - started)));
    }
  }

  private async take(): Promise<Sample> {
    // CPU first, at the moment the sample is dated; counters follow within milliseconds, offsets a little later.
    const atMs = Date.now();
    const cpu = this.cpu();
    const busy = machineBusySeconds();
    const collectorPid = this.options.services.pidOf('options-collector');
    const [[collector, gateway, cep, archive], collectorEventMs] = await Promise.all([
      Promise.all(
        (['options-collector', 'kafka-gateway', 'cep-engine', 'historical-data-manager'] as const).map(
          (service) => this.scrape(service),
        ),
      ),
      this.options.services.collectorEventTimeMs(),
    ]);
    const counts: Partial<Record<ThroughputStage, number>> = {
      'cep-alerts': this.options.readers.alertsRead,
    };
    const produced = 'tributary_kafka_messages_produced_total';
    if (collector) {
      counts['collector-written'] = collector.sum(produced, (labels) =>
        (COLLECTED_TOPICS as readonly string[]).includes(labels['topic'] ?? ''),
      );
      counts['collector-market-events'] = collector.sum(produced, (labels) =>
        MARKET_EVENT_TOPICS.has(labels['topic'] ?? ''),
      );
      // Refused by its validation (a future event time, a broken record): generated, not published.
      counts['collector-dead-lettered'] = collector.sum('tributary_collector_invalid_records_total');
    }
    if (gateway) {
      counts['gateway-validated'] = gateway.sum(
        produced,
        (labels) => labels['topic'] === 'market.trades.validated',
      );
      counts['gateway-enriched'] = gateway.sum(
        produced,
        (labels) => labels['topic'] === 'options.quotes.enriched',
      );
      counts['gateway-candles'] = gateway.sum(produced, (labels) => CANDLE_TOPICS.has(labels['topic'] ?? ''));
    }
    if (cep) counts['cep-read'] = cep.sum('tributary_cep_records_total');
    if (archive) counts['archive-read'] = archive.sum('tributary_kafka_messages_consumed_total');
    const rows = await this.newArchiveRows();
    if (rows !== undefined) counts['archive-rows'] = rows;

    return {
      atMs,
      counts,
      collectorPid: collector ? collectorPid : undefined,
      collectorEventMs: collector ? collectorEventMs : undefined,
      collectorSourceToAck: collector?.buckets('tributary_collector_source_to_publish_seconds'),
      groups: await this.groupPositions(),
      cpu,
      machineBusySeconds: busy,
    };
  }

  private async scrape(service: ServiceName): Promise<PrometheusText | undefined> {
    const baseUrl = this.options.services.baseUrl(service);
    if (!baseUrl) return undefined;
    try {
      const response = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
      return response.ok ? PrometheusText.parse(await response.text()) : undefined;
    } catch {
      return undefined; // restarting, or too busy to answer in time: this sample goes without it
    }
  }

  private topics(): string[] {
    return [...new Set(this.options.groups.flatMap((watch) => watch.topics))];
  }

  private async endsOf(topic: string): Promise<Map<number, bigint>> {
    const offsets = await this.options.admin.topicOffsets(topic);
    return new Map(offsets.map((entry) => [entry.partition, BigInt(entry.high)]));
  }

  private async groupPositions(): Promise<Record<string, GroupPosition>> {
    const ends = new Map<string, Map<number, bigint>>();
    await Promise.all(this.topics().map(async (topic) => ends.set(topic, await this.endsOf(topic))));
    const positions: Record<string, GroupPosition> = {};
    await Promise.all(
      this.options.groups.map(async (watch) => {
        const committed = await this.options.admin.committedOffsets(watch.group, watch.topics);
        const totals = { lag: 0n, ends: 0n, judgedLag: 0n, judgedEnds: 0n };
        for (const topic of watch.topics) {
          const judged = watch.judgedTopics.includes(topic);
          for (const [partition, end] of ends.get(topic) ?? []) {
            const position =
              committed.get(topic)?.get(partition) ?? this.startEnds.get(topic)?.get(partition) ?? end;
            const behind = end > position ? end - position : 0n;
            totals.lag += behind;
            totals.ends += end;
            if (judged) {
              totals.judgedLag += behind;
              totals.judgedEnds += end;
            }
          }
        }
        positions[watch.group] = {
          lag: Number(totals.lag),
          ends: Number(totals.ends),
          judgedLag: Number(totals.judgedLag),
          judgedEnds: Number(totals.judgedEnds),
        };
      }),
    );
    return positions;
  }

  /** Rows the archive committed so far; its new files become latency samples (commit time against their oldest event). */
  private async newArchiveRows(): Promise<number | undefined> {
    try {
      const { rows } = await this.options.catalog.query<{
        id: string;
        row_count: string;
        min_ns: string;
        committed_ms: number;
      }>(
        `SELECT id, row_count, min_event_time_ns::text AS min_ns, extract(epoch FROM committed_at) * 1000 AS committed_ms
           FROM "${this.options.archiveSchema}".files WHERE id > $1 ORDER BY id`,
        [this.lastFileId],
      );
      for (const file of rows) {
        this.lastFileId = Number(file.id);
        this.archiveRows += Number(file.row_count);
        this.options.latencies.observeEventTime('archive', nanosToMs(file.min_ns), Number(file.committed_ms));
      }
      return this.archiveRows;
    } catch {
      return undefined; // the catalog is created by the service in the background at its start
    }
  }

  private cpu(): Record<string, CpuReading> {
    const { services, infraPids } = this.options;
    const readings: Record<string, CpuReading> = {};
    for (const service of [
      'options-collector',
      'kafka-gateway',
      'cdc-listener',
      'cep-engine',
      'historical-data-manager',
    ] as const) {
      const pid = services.pidOf(service);
      if (pid !== undefined) readings[service] = readCpu([pid]);
    }
    for (const [name, pid] of Object.entries(infraPids))
      if (pid !== undefined) readings[name] = readCpu([pid]);
    readings['postgresql'] = readCpu(pidsNamed('postgres'));
    readings['bench driver'] = readCpu([process.pid]);
    return readings;
  }
}
