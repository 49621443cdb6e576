import type { BenchConfig } from './bench-config';
import type { JavaFigure, RecordSizes } from './kafka-ceiling';
import { rateBetween } from './pipeline-rates';
import { type GroupWatch, type Sample, THROUGHPUT_STAGES, type ThroughputStage } from './pipeline-sampler';
import { coresBetween } from './process-cpu';
import type { Verdict } from './rate-ramp';
import type { Percentiles } from './stage-latencies';
import { type Band, barChart, escapeHtml, lineChart } from './svg-charts';

/** A named stretch of the run, seconds since sampling started. */
export interface Phase {
  readonly name: string;
  readonly fromS: number;
  readonly toS: number;
}

export interface StepResult extends Verdict {
  readonly fromS: number;
  readonly toS: number;
}

/** A stage's throughput in the sustained run set against the Java tool that bounds it. */
export interface Ratio {
  readonly stage: string;
  readonly recordsPerSecond: number | null;
  readonly ceiling: 'ProducerPerformance' | 'ConsumerPerformance';
  readonly ratio: number | null;
}

export const COLLECTOR_SOURCE_TO_ACK = 'collector: source batch to ack (its histogram)';

export interface PlatformResult {
  readonly at: string;
  readonly runId: string;
  readonly machine: Readonly<Record<string, unknown>>;
  readonly config: BenchConfig;
  readonly cepRules: readonly {
    readonly id: string;
    readonly inputs: readonly string[];
    readonly placement: string;
  }[];
  readonly groups: readonly GroupWatch[];
  readonly steps: readonly StepResult[];
  readonly sustained: {
    readonly rate: number;
    /** Whether a ramp step sustained this rate (false: none did, and this is the lowest rate tried). */
    readonly sustainedInRamp: boolean;
    readonly verdict: StepResult;
    readonly recordsPerSecond: Readonly<Record<ThroughputStage, number | null>>;
    /** Records per second written to each group's input topics. */
    readonly groupsInputPerSecond: Readonly<Record<string, number | null>>;
    readonly latencyMs: Readonly<Record<string, Percentiles | undefined>>;
    readonly cpuCores: Readonly<Record<string, number | null>>;
    readonly machineCores: number | null;
  };
  readonly series: {
    readonly phases: readonly Phase[];
    readonly t: readonly number[];
    readonly recordsPerSecond: Readonly<Record<string, readonly (number | null)[]>>;
    /** Per group, records behind on its judged topics (all its topics when none is judged). */
    readonly lag: Readonly<Record<string, readonly (number | null)[]>>;
    readonly cpuCores: Readonly<Record<string, readonly (number | null)[]>>;
    readonly machineCores: readonly (number | null)[];
  };
  readonly recordSizes: RecordSizes;
  readonly ceilings: {
    readonly topic: string;
    readonly records: number;
    readonly valueBytes: number;
    readonly compression: string;
    readonly producer: JavaFigure;
    readonly consumer: JavaFigure;
  };
  readonly ratios: readonly Ratio[];
  readonly latencySamplesUnresolved: number;
  readonly method: readonly string[];
}

/** The CPU of the machine not used by any process the benchmark follows. */
export const OTHER_WORK = 'everything else on the machine';

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

const round = (value: number | undefined | null, digits = 0): number | null =>
  value === undefined || value === null || !Number.isFinite(value)
    ? null
    : Math.round(value * 10 ** digits) / 10 ** digits;

/** Per-interval series of the whole run: rates and cores between consecutive samples, lag at each sample. */
export function seriesOf(
  samples: readonly Sample[],
  startMs: number,
  groups: readonly GroupWatch[],
): Omit<PlatformResult['series'], 'phases'> {
  const pairs = samples.slice(1).map((after, i) => [samples[i] as Sample, after] as const);
  const t = pairs.map(([, after]) => round((after.atMs - startMs) / 1000, 1) as number);
  const recordsPerSecond: Record<string, (number | null)[]> = {};
  for (const stage of Object.keys(THROUGHPUT_STAGES) as ThroughputStage[]) {
    recordsPerSecond[stage] = pairs.map(([before, after]) => round(rateBetween(before, after, stage), 1));
  }
  // Each group's lag on the topics it is judged by; the candle group's (judged by none) on all of them.
  const lag: Record<string, (number | null)[]> = {};
  for (const watch of groups) {
    const judged = watch.judgedTopics.length > 0;
    lag[watch.group] = pairs.map(([, after]) => {
      const position = after.groups[watch.group];
      return position ? (judged ? position.judgedLag : position.lag) : null;
    });
  }
  const processes = [...new Set(samples.flatMap((sample) => Object.keys(sample.cpu)))];
  const cpuCores: Record<string, (number | null)[]> = {};
  for (const name of processes) {
    cpuCores[name] = pairs.map(([before, after]) => {
      const from = before.cpu[name];
      const to = after.cpu[name];
      return from && to ? round(coresBetween(from, to, (after.atMs - before.atMs) / 1000), 3) : null;
    });
  }
  const machineCores = pairs.map(([before, after]) =>
    round((after.machineBusySeconds - before.machineBusySeconds) / ((after.atMs - before.atMs) / 1000), 3),
  );
  // What other work on the shared machine used; unknown across a restart (a process missing from the sum).
  cpuCores[OTHER_WORK] = pairs.map(([, after], i) => {
    const running = processes.filter((name) => after.cpu[name] !== undefined);
    const used = running.map((name) => cpuCores[name]?.[i] ?? null);
    const machine = machineCores[i] ?? null;
    return machine === null || used.includes(null) ? null : round(machine - sum(used as number[]), 3);
  });
  return { t, recordsPerSecond, lag, cpuCores, machineCores };
}

const number = (value: number | null | undefined, digits = 0) =>
  value === null || value === undefined || !Number.isFinite(value)
    ? '—'
    : value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percent = (ratio: number | null) => (ratio === null ? '—' : `${(ratio * 100).toFixed(1)}%`);

/** The short table printed at the end of a run. */
export function summaryLines(result: PlatformResult): string[] {
  const { sustained, ceilings } = result;
  const lines = [
    '',
    `steps: ${result.steps.map((step) => `${number(step.rate)}/s ${step.sustained ? 'sustained' : `not sustained (${step.reasons.join('; ')})`}`).join(', ')}`,
    `${sustained.sustainedInRamp ? 'highest sustained rate' : 'no rate was sustained; lowest rate tried'}: simulator at ${number(sustained.rate)}/s (${number(sustained.verdict.marketEventsPerSecond)} market events/s published), ` +
      `run ${number(sustained.verdict.seconds)} s: ${sustained.verdict.sustained ? 'every stage kept up' : `not kept up (${sustained.verdict.reasons.join('; ')})`}`,
    `ceiling on the same broker: ProducerPerformance ${number(ceilings.producer.recordsPerSecond)} records/s, ConsumerPerformance ${number(ceilings.consumer.recordsPerSecond)} records/s ` +
      `(${number(ceilings.records)} records of ${ceilings.valueBytes} bytes, the collector's mean value size, ${ceilings.compression})`,
    '',
    `${'stage'.padEnd(58)}${'records/s'.padStart(11)}  ${'ceiling'.padEnd(20)}${'ratio'.padStart(7)}`,
    ...result.ratios.map(
      (ratio) =>
        `${ratio.stage.padEnd(58)}${number(ratio.recordsPerSecond).padStart(11)}  ${ratio.ceiling.padEnd(20)}${percent(ratio.ratio).padStart(7)}`,
    ),
    '',
    `${'latency (ms, from the collector publishing the event)'.padEnd(58)}${'p50'.padStart(8)}${'p95'.padStart(8)}${'p99'.padStart(8)}${'count'.padStart(9)}`,
    ...Object.entries(sustained.latencyMs).map(
      ([stage, p]) =>
        `${stage.padEnd(58)}${number(p?.p50).padStart(8)}${number(p?.p95).padStart(8)}${number(p?.p99).padStart(8)}${number(p?.count).padStart(9)}`,
    ),
    '',
    `cores used (mean of the sustained run): ${Object.entries(sustained.cpuCores)
      .map(([name, cores]) => `${name} ${number(cores, 2)}`)
      .join(', ')}; whole machine ${number(sustained.machineCores, 2)} of ${String(result.machine['cpus'])}`,
  ];
  return lines;
}

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return (
    `<table><tr>${headers.map((header) => `<th>${escapeHtml(header)}</th>`).join('')}</tr>` +
    rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('') +
    '</table>'
  );
}

/** The report as one HTML file: inline SVG charts, no script, nothing fetched. */
export function renderHtml(result: PlatformResult): string {
  const { series, sustained } = result;
  const bands: Band[] = series.phases.map((phase) => ({
    name: phase.name,
    from: phase.fromS,
    to: phase.toS,
  }));
  const throughput = lineChart({
    title: 'Throughput per stage (records/s, log scale)',
    yLabel: 'records/s',
    x: series.t,
    bands,
    log: true,
    series: (Object.keys(THROUGHPUT_STAGES) as ThroughputStage[]).map((stage) => ({
      name: THROUGHPUT_STAGES[stage],
      values: series.recordsPerSecond[stage] ?? [],
    })),
  });
  const lag = lineChart({
    title: 'Consumer group lag (records behind the end of the topics each group is judged by, log scale)',
    yLabel: 'records',
    x: series.t,
    bands,
    log: true,
    series: result.groups.map((watch) => ({
      name:
        watch.judgedTopics.length === 0
          ? `${watch.label} (commits behind open windows)`
          : watch.judgedTopics.length < watch.topics.length
            ? `${watch.label}: ${watch.judgedTopics.join(', ')} only`
            : watch.label,
      values: series.lag[watch.group] ?? [],
    })),
  });
  const cpu = lineChart({
    title: 'CPU per process (cores)',
    yLabel: 'cores',
    x: series.t,
    bands,
    series: [
      ...Object.entries(series.cpuCores).map(([name, values]) => ({ name, values })),
      { name: 'whole machine', values: series.machineCores },
    ],
  });
  const latencyStages = Object.keys(sustained.latencyMs);
  const latency = barChart({
    title: `Latency percentiles per stage in the sustained run (ms, log scale)`,
    yLabel: 'ms',
    categories: latencyStages,
    measures: ['p50', 'p95', 'p99'],
    values: latencyStages.map((stage) => {
      const p = sustained.latencyMs[stage];
      return [p?.p50, p?.p95, p?.p99];
    }),
  });
  const steps = table(
    [
      'simulator setting (arrivals/s)',
      'simulator generated (events/s)',
      'published (events/s)',
      'event time per wall s',
      'records/s',
      'per group, s of input: lag trend over the window / median / at most',
      'candles later at the end',
      'verdict',
    ],
    [...result.steps, sustained.verdict].map((step, i) => [
      i === result.steps.length ? `${number(step.rate)} (sustained run)` : number(step.rate),
      number(step.offeredPerSecond),
      number(step.marketEventsPerSecond),
      number(step.eventTimePace, 2),
      number(step.recordsPerSecond),
      step.groups
        .map(
          (group) =>
            `${group.label} ${number(group.behindSeconds, 1)} / ${number(group.medianBehindSeconds, 1)} / ${number(group.peakBehindSeconds, 1)}`,
        )
        .join('; '),
      step.candleLatencyGrowthSeconds === null ? '—' : `${step.candleLatencyGrowthSeconds.toFixed(1)} s`,
      step.sustained ? 'kept up' : step.reasons.join('; '),
    ]),
  );
  const ratios = table(
    ['stage', 'records/s', 'ceiling', 'ratio'],
    result.ratios.map((ratio) => [
      ratio.stage,
      number(ratio.recordsPerSecond),
      ratio.ceiling,
      percent(ratio.ratio),
    ]),
  );
  const latencyTable = table(
    ['stage', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'samples'],
    Object.entries(sustained.latencyMs).map(([stage, p]) => [
      stage,
      number(p?.p50, 1),
      number(p?.p95, 1),
      number(p?.p99, 1),
      number(p?.max, 1),
      number(p?.count),
    ]),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tributary platform benchmark ${escapeHtml(result.runId)}</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1140px}table{border-collapse:collapse;margin:8px 0 24px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left}th{background:#f4f4f4}svg{margin:8px 0 20px}li{margin:4px 0;font-size:14px}</style>
</head><body>
<h1>Tributary platform benchmark</h1>
<p>${escapeHtml(result.at)}, run ${escapeHtml(result.runId)}, ${escapeHtml(String(result.machine['cpus']))} cores (${escapeHtml(String(result.machine['cpuModel']))}), Node ${escapeHtml(String(result.machine['node']))}, Kafka ${escapeHtml(String(result.machine['kafka']))}.
${sustained.sustainedInRamp ? 'Highest sustained rate' : 'No rate was sustained; the sustained run used the lowest rate tried'}: <b>simulator at ${number(sustained.rate)} arrivals/s</b>, ${number(sustained.verdict.marketEventsPerSecond)} market events/s published
(${number(sustained.verdict.recordsPerSecond)} collector records/s) for ${number(sustained.verdict.seconds)} s.
Ceiling on the same broker: ProducerPerformance ${number(result.ceilings.producer.recordsPerSecond)} records/s, ConsumerPerformance ${number(result.ceilings.consumer.recordsPerSecond)} records/s
(${number(result.ceilings.records)} records of ${result.ceilings.valueBytes} bytes, ${escapeHtml(result.ceilings.compression)}).</p>
<h2>Stages against the ceiling (sustained run)</h2>${ratios}
<h2>Ramp</h2>${steps}
${throughput}
${lag}
<h2>Latency (sustained run)</h2>${latency}${latencyTable}
<h2>CPU</h2>${cpu}
<h2>How it was measured</h2><ul>${result.method.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>
</body></html>
`;
}

/** How each figure was obtained, written into the results so they can be read without this script. */
export const METHOD = [
  'The five services run as built (dist/apps/*/main.js), one process each, on the catalog topics (no prefix: the collector and the gateway have none), with consumer groups, CEP transactional ids, archive catalog schema and change-capture slot of this run. Records of this run are told from others on the shared topics by their producer header.',
  "Throughput: the services' own counters on /metrics (tributary_kafka_messages_produced_total per topic for the collector and the gateway, tributary_cep_records_total, the archive's tributary_kafka_messages_consumed_total), rows of the files committed to the archive catalog in PostgreSQL, and alerts of this run read committed from cep.alerts. The gateway counts no records read for its candles and enrichment, so its reads are given as the records written to the inputs of its three groups (what it has to read; it did when its verdict says it kept up).",
  "Lag: end offsets of the input topics (ClusterAdmin.topicOffsets) minus the group's committed offsets (ClusterAdmin.committedOffsets), summed over partitions; a partition the group never committed counts from its end when sampling started. Processors that commit behind state they hold on purpose are not judged there: the candle group (behind its oldest open window, up to a minute of trades; the candles are judged by their latency growing instead) and the enrichment group on market.quotes (behind the oldest underlying price it keeps).",
  "Latency: the wall time a record became readable (TopicReader, no group; cep.alerts read committed) minus the wall time the collector published the event it derives from. The simulator's event clock is not the wall clock, so \"published\" comes from the collector's own market.trades records read back: the timestamp (set by its producer from the wall clock) of the first of its trades at or after the derived record's event time. Candles are measured from their window end, so their figure includes the out-of-orderness bound the aggregator waits for by design; enriched quotes likewise include the join's wait for the underlying's watermark. One enriched quote in ten is timed. The archive is measured per file: catalog commit time minus the publish time of its oldest row.",
  "Kept up: the simulator (SIMULATOR_EVENTS_PER_SECOND arrivals per second of event time, an arrival being one or more events) is judged by what it generated, not by its setting: the collector must publish at least 95% of the market events generated (published plus dead-lettered, tributary_collector_invalid_records_total), and the simulated clock (the collector's /status lastEventTime) must advance at least 0.95 s per wall second, else the collector held the simulator back. The run has a simulated clock of its own (SIMULATOR_RESUME off, SIMULATOR_START a 2025 session open, each restart just after the last event time the previous collector published), so its events are never future times. A consumer group kept up when the least-squares trend of its lag over every sample of the window (in seconds of its input) grew by no more than max(BENCH_MAX_BEHIND_SECONDS, 5% of the window, its median lag above its lowest: the swing of its own commit cadence), and it was never more than 15 s of input behind: a group committing in cycles (the archive, after each flush) has a sawtooth lag whose level says how far its cadence keeps it behind, not that it falls behind.",
  "The collector's own figure (source batch to Kafka acknowledgement) is its histogram tributary_collector_source_to_publish_seconds between the first and last sample of the sustained run, interpolated within buckets.",
  'CPU: utime + stime of /proc/<pid>/stat of each service, the Kafka broker and the S3 server (their pid files in .infra), every postgres process, and this script; the whole machine from /proc/stat. The machine is shared: "everything else on the machine" is what other work used meanwhile.',
  "Ceiling: Kafka's ProducerPerformance (acks=all, idempotent, the collector topics' compression, no keys or headers) then ConsumerPerformance (fresh group, fetch rate), on a fresh 12-partition topic of the same broker, records of the collector's mean value size measured from its records, after the services stopped.",
];
