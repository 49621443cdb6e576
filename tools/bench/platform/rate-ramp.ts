import type { BenchConfig } from './bench-config';
import { judgedInputRate, windowRate } from './pipeline-rates';
import type { GroupWatch, Sample } from './pipeline-sampler';

/**
 * The collector must publish at least this share of what its simulator generated (the rest was
 * dead-lettered), and its simulated clock must advance at least this fast against the wall clock
 * (slower: the collector held the simulator back, it could not publish what was offered).
 */
const MIN_SOURCE_SHARE = 0.95;
/**
 * A group keeping up may still be this far behind at a moment (seconds of its input): the archive
 * commits only after a flush (2 s of records, then one upload and catalog commit per topic
 * partition), the CEP engine every 200 ms. A group further behind than this in the middle of a
 * window did not keep up, even if it caught up by the end.
 */
const MAX_PEAK_BEHIND_SECONDS = 15;

export interface GroupVerdict {
  readonly group: string;
  readonly label: string;
  /**
   * How much further behind its judged input the group fell over the window, in seconds of input:
   * the least-squares trend of its lag over every sample of the window, times the window's length.
   * A group that commits in cycles (the archive after each flush) has a sawtooth lag; the trend over
   * a window of several cycles follows its troughs, where two lone samples would catch any phase.
   */
  readonly behindSeconds: number | null;
  /** Its lag in the window, in seconds of input: the median (the usual distance its commit cadence keeps it behind). */
  readonly medianBehindSeconds: number | null;
  /** How far behind it was at most in the window, in seconds of input. */
  readonly peakBehindSeconds: number | null;
}

/** Whether every stage kept up with one offered rate over one window. */
export interface Verdict {
  /** Arrivals per second of event time the simulator was set to (SIMULATOR_EVENTS_PER_SECOND). */
  readonly rate: number;
  readonly seconds: number;
  /** Market events (quotes and trades) the collector published per second. */
  readonly marketEventsPerSecond: number | null;
  /** What the simulator generated per second: published plus dead-lettered (what the source offered). */
  readonly offeredPerSecond: number | null;
  /** Simulated events the collector's validation refused per second (to the DLQ topics). */
  readonly deadLetteredPerSecond: number | null;
  /** Seconds of event time the simulated clock advanced per wall second (1 at wall pace; below: held back). */
  readonly eventTimePace: number | null;
  readonly recordsPerSecond: number | null;
  readonly groups: readonly GroupVerdict[];
  /** How much later the 1 s candles of the end of the window appeared than those of its start (median, seconds). */
  readonly candleLatencyGrowthSeconds: number | null;
  readonly sustained: boolean;
  /** Why not, when not. */
  readonly reasons: readonly string[];
}

/** Least-squares slope of `values` against `times` (per unit of time); undefined under three points. */
function trendSlope(times: readonly number[], values: readonly number[]): number | undefined {
  const n = values.length;
  if (n < 3) return undefined;
  const meanT = times.reduce((sum, t) => sum + t, 0) / n;
  const meanV = values.reduce((sum, v) => sum + v, 0) / n;
  let covariance = 0;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    covariance += ((times[i] as number) - meanT) * ((values[i] as number) - meanV);
    variance += ((times[i] as number) - meanT) ** 2;
  }
  return variance > 0 ? covariance / variance : undefined;
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Seconds of event time per wall second over the samples of one collector process with an event time. */
function eventTimePace(samples: readonly Sample[]): number | undefined {
  const last = [...samples].reverse().find((sample) => sample.collectorEventMs !== undefined);
  const first = samples.find(
    (sample) => sample.collectorEventMs !== undefined && sample.collectorPid === last?.collectorPid,
  );
  if (!first || !last || last.atMs - first.atMs < 1_000) return undefined;
  return ((last.collectorEventMs as number) - (first.collectorEventMs as number)) / (last.atMs - first.atMs);
}

/**
 * Judges a window of samples taken while the simulator was set to `rate` arrivals per second.
 * Sustained means:
 * - the source kept up with what the simulator offered: the collector published at least 95% of
 *   the events the simulator generated (the rest went to the DLQ) and the simulated clock advanced
 *   at least 0.95 s per wall second (the simulator waits on a collector that cannot publish). The
 *   setting is not the count: the simulator draws arrivals at `rate` per second of event time and
 *   an arrival can be several events (sweeps across exchanges, the scripted episodes' extra prints),
 *   so the collector publishes some 20% more market events than the setting, more during episodes;
 * - no consumer group's lag on its judged topics grew over the window by more than the tolerance
 *   (trend over all samples, in seconds of its input; the tolerance is max(BENCH_MAX_BEHIND_SECONDS,
 *   5% of the window, the swing of its commit cadence: its median lag above its lowest)), nor was it ever more than
 *   MAX_PEAK_BEHIND_SECONDS behind;
 * - the candles did not come out later and later (`candleLatencyGrowthMs`, the growth of their
 *   median latency over the window).
 */
export function judgeWindow(
  samples: readonly Sample[],
  rate: number,
  groups: readonly GroupWatch[],
  candleLatencyGrowthMs: number | undefined,
  config: BenchConfig,
): Verdict {
  const seconds =
    samples.length > 1
      ? ((samples[samples.length - 1] as Sample).atMs - (samples[0] as Sample).atMs) / 1000
      : 0;
  const tolerance = Math.max(config.maxBehindSeconds, 0.05 * seconds);
  const reasons: string[] = [];
  const marketEvents = windowRate(samples, 'collector-market-events');
  const deadLettered = windowRate(samples, 'collector-dead-lettered');
  const offered = marketEvents === undefined ? undefined : marketEvents + (deadLettered ?? 0);
  const pace = eventTimePace(samples);
  if (marketEvents === undefined || offered === undefined) reasons.push('no collector counts in the window');
  else {
    if (offered > 0 && marketEvents < MIN_SOURCE_SHARE * offered)
      reasons.push(
        `the collector dead-lettered ${Math.round(deadLettered ?? 0)} of the ${Math.round(offered)} events/s ` +
          'its simulator generated (refused by its validation: see the DLQ topics)',
      );
    if (pace !== undefined && pace < MIN_SOURCE_SHARE)
      reasons.push(
        `the collector held its simulator back: event time advanced ${pace.toFixed(2)} s per wall second`,
      );
    if (offered === 0) reasons.push('the simulator generated nothing');
  }
  const verdicts = groups.flatMap((watch): GroupVerdict[] => {
    if (watch.judgedTopics.length === 0) return [];
    const having = samples.filter((sample) => sample.groups[watch.group] !== undefined);
    const lags = having.map((sample) => sample.groups[watch.group]?.judgedLag as number);
    const input = judgedInputRate(samples, watch.group);
    const perSecond = input && input > 0 ? input : undefined;
    const slope = trendSlope(
      having.map((sample) => sample.atMs / 1000),
      lags,
    );
    const behindSeconds = slope !== undefined && perSecond ? (slope * seconds) / perSecond : null;
    const peakBehindSeconds = lags.length > 0 && perSecond ? Math.max(...lags) / perSecond : null;
    const typical = median(lags);
    const medianBehindSeconds = typical !== undefined && perSecond ? typical / perSecond : null;
    // Growth within the swing of its own commit cadence (median above lowest lag: how far a commit
    // cycle usually takes it beyond its troughs) is that cadence (a slow flush, a burst of chain
    // snapshots), not a backlog building up. The level itself is no allowance: a group already
    // behind at the start would hide its growth in it.
    const cadenceSeconds = typical !== undefined && perSecond ? (typical - Math.min(...lags)) / perSecond : 0;
    const allowed = Math.max(tolerance, cadenceSeconds);
    if (behindSeconds !== null && behindSeconds > allowed) {
      reasons.push(
        `${watch.label} fell ${behindSeconds.toFixed(1)} s further behind (trend of its lag over ${Math.round(seconds)} s)`,
      );
    } else if (peakBehindSeconds !== null && peakBehindSeconds > MAX_PEAK_BEHIND_SECONDS) {
      reasons.push(`${watch.label} was up to ${peakBehindSeconds.toFixed(0)} s behind`);
    }
    return [
      { group: watch.group, label: watch.label, behindSeconds, medianBehindSeconds, peakBehindSeconds },
    ];
  });
  const candleGrowth = candleLatencyGrowthMs === undefined ? null : candleLatencyGrowthMs / 1000;
  if (candleGrowth !== null && candleGrowth > tolerance)
    reasons.push(`the candles came out ${candleGrowth.toFixed(1)} s later at the end`);
  return {
    rate,
    seconds,
    marketEventsPerSecond: marketEvents ?? null,
    offeredPerSecond: offered ?? null,
    deadLetteredPerSecond: deadLettered ?? null,
    eventTimePace: pace ?? null,
    recordsPerSecond: windowRate(samples, 'collector-written') ?? null,
    groups: verdicts,
    candleLatencyGrowthSeconds: candleGrowth,
    sustained: reasons.length === 0,
    reasons,
  };
}

/** Two significant digits: 14142 → 14000. */
function roundRate(rate: number): number {
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(rate)) - 1);
  return Math.round(rate / unit) * unit;
}

/**
 * Which rate to try next: the given list in order until one is not sustained; otherwise doubling
 * from the start rate until one is not sustained (at most maxSteps), then one step between the
 * best sustained rate and the first that failed.
 */
export class RateSearch {
  private readonly tried: { readonly rate: number; readonly sustained: boolean }[] = [];

  constructor(private readonly config: BenchConfig) {}

  next(): number | undefined {
    const failed = this.tried.find((step) => !step.sustained);
    if (this.config.rates.length > 0) return failed ? undefined : this.config.rates[this.tried.length];
    if (!failed) {
      const last = this.tried[this.tried.length - 1];
      if (this.tried.length >= this.config.maxSteps) return undefined;
      return last ? last.rate * 2 : this.config.startRate;
    }
    if (this.tried[this.tried.length - 1] !== failed) return undefined;
    const below = this.best ?? failed.rate / 4;
    const between = roundRate(Math.sqrt(below * failed.rate));
    return this.tried.some((step) => step.rate === between) ? undefined : between;
  }

  report(rate: number, sustained: boolean): void {
    this.tried.push({ rate, sustained });
  }

  /** The highest rate sustained so far. */
  get best(): number | undefined {
    const sustained = this.tried.filter((step) => step.sustained).map((step) => step.rate);
    return sustained.length > 0 ? Math.max(...sustained) : undefined;
  }

  /** The lowest rate tried, for a sustained run when none was sustained. */
  get lowest(): number | undefined {
    return this.tried.length > 0 ? Math.min(...this.tried.map((step) => step.rate)) : undefined;
  }
}
