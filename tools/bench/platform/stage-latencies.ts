import type { PublishClock } from './publish-clock';

/** Where along the pipeline a latency is measured: each is read from outside the services. */
export const LATENCY_STAGES = {
  'collector-kafka': 'collector → Kafka: its market.trades readable',
  'gateway-quality': 'gateway quality: market.trades.validated',
  'gateway-enrichment': 'gateway enrichment: options.quotes.enriched',
  'gateway-candles': 'gateway candles: candles.1s (from window end)',
  'cep-alerts': 'CEP: cep.alerts committed',
  archive: 'archive: file in the catalog (its oldest row)',
} as const;
export type LatencyStage = keyof typeof LATENCY_STAGES;

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Pairs of numbers in typed arrays that grow: millions of samples without millions of objects. */
class PairSeries {
  private first = new Float64Array(1024);
  private second = new Float64Array(1024);
  length = 0;

  push(a: number, b: number): void {
    if (this.length === this.first.length) {
      const grow = (array: Float64Array) => {
        const larger = new Float64Array(array.length * 2);
        larger.set(array);
        return larger;
      };
      this.first = grow(this.first);
      this.second = grow(this.second);
    }
    this.first[this.length] = a;
    this.second[this.length] = b;
    this.length++;
  }

  /** The second numbers of the pairs whose first number is in [from, to). */
  secondsWhereFirstIn(from: number, to: number): Float64Array {
    const selected = new Float64Array(this.length);
    let count = 0;
    for (let i = 0; i < this.length; i++) {
      const a = this.first[i] as number;
      if (a >= from && a < to) selected[count++] = this.second[i] as number;
    }
    return selected.subarray(0, count);
  }
}

export function percentilesOf(values: Float64Array): Percentiles | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) =>
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) * 10) / 10;
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
}

/**
 * Latency samples per stage: the wall time a record became visible downstream minus the wall time
 * the collector published the event it comes from. Records that carry only an event time wait
 * until the publish clock has read past it, then are resolved; every sample is filed under the
 * time its source event was published, so a phase of the run collects exactly the events it offered.
 */
export class StageLatencies {
  private readonly samples = new Map<LatencyStage, PairSeries>();
  private pending: { stage: LatencyStage; eventMs: number; visibleMs: number }[] = [];
  private unresolved = 0;

  /** A record whose source publish time is known (a trade's own timestamp). */
  observe(stage: LatencyStage, publishedMs: number, visibleMs: number): void {
    this.seriesOf(stage).push(publishedMs, visibleMs - publishedMs);
  }

  /** A record known by the event time it derives from. */
  observeEventTime(stage: LatencyStage, eventMs: number, visibleMs: number): void {
    this.pending.push({ stage, eventMs, visibleMs });
  }

  /**
   * Resolves the waiting samples whose event time the clock has read at least `marginMs` past (so
   * every partition's trades up to it have been read); with `final`, every sample it can.
   */
  resolve(clock: PublishClock, marginMs: number, final = false): void {
    const waiting: typeof this.pending = [];
    for (const sample of this.pending) {
      const published =
        final || clock.latestEventMs >= sample.eventMs + marginMs
          ? clock.publishedAt(sample.eventMs)
          : undefined;
      if (published === undefined) {
        if (final) this.unresolved++;
        else waiting.push(sample);
        continue;
      }
      this.seriesOf(sample.stage).push(published, sample.visibleMs - published);
    }
    this.pending = waiting;
  }

  /** Samples that could not be placed in event time (their events were published after the last trade read). */
  get unresolvedCount(): number {
    return this.unresolved;
  }

  /**
   * How much later the records of the last third of [fromMs, toMs) became visible than those of the
   * first third (difference of the median latencies, ms): a stage that falls behind its input shows
   * it here. Undefined without samples in both thirds.
   */
  medianGrowth(stage: LatencyStage, fromMs: number, toMs: number): number | undefined {
    const third = (toMs - fromMs) / 3;
    const first = this.percentiles(stage, fromMs, fromMs + third);
    const last = this.percentiles(stage, toMs - third, toMs);
    return first && last ? last.p50 - first.p50 : undefined;
  }

  /** Percentiles (ms) of the samples whose source events were published in [fromMs, toMs). */
  percentiles(stage: LatencyStage, fromMs: number, toMs: number): Percentiles | undefined {
    return percentilesOf(this.samples.get(stage)?.secondsWhereFirstIn(fromMs, toMs) ?? new Float64Array(0));
  }

  private seriesOf(stage: LatencyStage): PairSeries {
    let series = this.samples.get(stage);
    if (!series) {
      series = new PairSeries();
      this.samples.set(stage, series);
    }
    return series;
  }
}
