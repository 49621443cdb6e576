import type { JavaFigure } from './kafka-ceiling';
import { groupInputRate, windowCores, windowMachineCores, windowRate } from './pipeline-rates';
import { type GroupWatch, type Sample, THROUGHPUT_STAGES, type ThroughputStage } from './pipeline-sampler';
import { COLLECTOR_SOURCE_TO_ACK, OTHER_WORK, type PlatformResult, type Ratio } from './platform-report';
import { bucketQuantile, bucketsBetween } from './prometheus-text';
import { LATENCY_STAGES, type LatencyStage, type Percentiles, type StageLatencies } from './stage-latencies';

type SustainedFigures = Omit<PlatformResult['sustained'], 'rate' | 'sustainedInRamp' | 'verdict'>;

export const roundTo = (value: number | null | undefined, digits: number): number | null =>
  value === null || value === undefined || !Number.isFinite(value)
    ? null
    : Math.round(value * 10 ** digits) / 10 ** digits;

/** The sum, or null when any term is unknown. */
function sum(values: readonly (number | null)[]): number | null {
  return values.some((value) => value === null)
    ? null
    : values.reduce<number>((total, value) => total + (value as number), 0);
}

/** The collector's own histogram between the first and last sample of the window, as percentiles in ms. */
function collectorSourceToAck(window: readonly Sample[]): Percentiles | undefined {
  const first = window[0]?.collectorSourceToAck;
  const last = window[window.length - 1]?.collectorSourceToAck;
  if (!first || !last) return undefined;
  const buckets = bucketsBetween(first, last);
  const count = buckets[buckets.length - 1]?.count ?? 0;
  if (count <= 0) return undefined;
  // Interpolated within buckets; the maximum is the bound of the highest bucket holding an observation.
  const ms = (quantile: number) => Math.round((bucketQuantile(buckets, quantile) ?? 0) * 10_000) / 10;
  return { count, p50: ms(0.5), p95: ms(0.95), p99: ms(0.99), max: ms(1) };
}

/** Throughput, latency and CPU of the sustained run, its samples being `window` and its events those published in [fromMs, toMs). */
export function sustainedFigures(
  window: readonly Sample[],
  groups: readonly GroupWatch[],
  latencies: StageLatencies,
  fromMs: number,
  toMs: number,
): SustainedFigures {
  const recordsPerSecond = Object.fromEntries(
    (Object.keys(THROUGHPUT_STAGES) as ThroughputStage[]).map((stage) => [
      stage,
      roundTo(windowRate(window, stage), 1),
    ]),
  ) as Record<ThroughputStage, number | null>;
  const groupsInputPerSecond = Object.fromEntries(
    groups.map((watch) => [watch.group, roundTo(groupInputRate(window, watch.group), 1)]),
  );
  const latencyMs: Record<string, Percentiles | undefined> = {
    [COLLECTOR_SOURCE_TO_ACK]: collectorSourceToAck(window),
  };
  for (const [stage, label] of Object.entries(LATENCY_STAGES))
    latencyMs[label] = latencies.percentiles(stage as LatencyStage, fromMs, toMs);
  const processes = [...new Set(window.flatMap((sample) => Object.keys(sample.cpu)))];
  const cpuCores = Object.fromEntries(processes.map((name) => [name, roundTo(windowCores(window, name), 3)]));
  const machineCores = roundTo(windowMachineCores(window), 3);
  const measured = Object.values(cpuCores).reduce<number>((total, cores) => total + (cores ?? 0), 0);
  if (machineCores !== null) cpuCores[OTHER_WORK] = roundTo(machineCores - measured, 3);
  return { recordsPerSecond, groupsInputPerSecond, latencyMs, cpuCores, machineCores };
}

/**
 * Each stage's throughput in the sustained run against the Java tool that bounds it: stages that
 * write against ProducerPerformance, stages that read against ConsumerPerformance.
 */
export function ceilingRatios(
  figures: SustainedFigures,
  gatewayGroups: readonly string[],
  producer: JavaFigure,
  consumer: JavaFigure,
): Ratio[] {
  const rates = figures.recordsPerSecond;
  const ratio = (stage: string, perSecond: number | null, ceiling: Ratio['ceiling']): Ratio => {
    const bound = ceiling === 'ProducerPerformance' ? producer.recordsPerSecond : consumer.recordsPerSecond;
    return {
      stage,
      recordsPerSecond: roundTo(perSecond, 1),
      ceiling,
      ratio: perSecond === null || bound <= 0 ? null : roundTo(perSecond / bound, 4),
    };
  };
  const gatewayWritten = sum([
    rates['gateway-validated'],
    rates['gateway-enriched'],
    rates['gateway-candles'],
  ]);
  // The gateway counts no records read for its candles and enrichment: what its groups had to read is everything written to their inputs.
  const gatewayRead = sum(gatewayGroups.map((group) => figures.groupsInputPerSecond[group] ?? null));
  return [
    ratio('collector → Kafka: records written', rates['collector-written'], 'ProducerPerformance'),
    ratio('gateway: records written (validated, enriched, candles)', gatewayWritten, 'ProducerPerformance'),
    ratio('gateway: records to read (inputs of its three groups)', gatewayRead, 'ConsumerPerformance'),
    ratio('CEP: input records processed', rates['cep-read'], 'ConsumerPerformance'),
    ratio('archive: records consumed', rates['archive-read'], 'ConsumerPerformance'),
    ratio('archive: rows committed to the catalog', rates['archive-rows'], 'ConsumerPerformance'),
    ratio(
      'all services: records written',
      sum([rates['collector-written'], gatewayWritten, rates['cep-alerts']]),
      'ProducerPerformance',
    ),
    ratio(
      'all services: records read',
      sum([gatewayRead, rates['cep-read'], rates['archive-read']]),
      'ConsumerPerformance',
    ),
  ];
}
