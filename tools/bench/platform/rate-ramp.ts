import type { BenchConfig } from './bench-config';
import { judgedInputRate, windowRate } from './pipeline-rates';
import type { GroupWatch, Sample } from './pipeline-sampler';

/** The collector must publish at least this share of the market events its simulator is set to. */
const MIN_PUBLISHED_SHARE = 0.95;
/**
 * A group keeping up may still be this far behind at a moment (seconds of its input): the archive
 * commits only after a flush (2 s of records, then the upload), the CEP engine every 200 ms. A group
 * further behind than this in the middle of a window did not keep up, even if it caught up by the end.
 */
const MAX_PEAK_BEHIND_SECONDS = 15;

export interface GroupVerdict {
  readonly group: string;
  readonly label: string;
  /** How much further behind its judged input the group was at the end of the window than at its start, in seconds of input. */
  readonly behindSeconds: number | null;
  /** How far behind it was at most in the window, in seconds of input. */
  readonly peakBehindSeconds: number | null;
}

/** Whether every stage kept up with one offered rate over one window. */
export interface Verdict {
  /** Market events per second the simulator was set to. */
  readonly rate: number;
  readonly seconds: number;
  readonly marketEventsPerSecond: number | null;
  readonly recordsPerSecond: number | null;
  readonly groups: readonly GroupVerdict[];
  /** How much later the 1 s candles of the end of the window appeared than those of its start (median, seconds). */
  readonly candleLatencyGrowthSeconds: number | null;
  readonly sustained: boolean;
  /** Why not, when not. */
  readonly reasons: readonly string[];
}

/** The lowest value over the first and over the last third of the samples: sawtooth peaks (a flush, a commit interval) filtered out. */
function firstAndLastLows(values: readonly number[]): [number, number] | undefined {
  if (values.length < 2) return undefined;
  const third = Math.max(1, Math.floor(values.length / 3));
  return [Math.min(...values.slice(0, third)), Math.min(...values.slice(-third))];
}

/**
 * Judges a window of samples taken while the collector offered `rate` market events per second.
 * Sustained means: the collector published at least 95% of that rate, no consumer group ended the
 * window further behind on its judged topics than it started by more than the tolerance nor was
 * ever more than MAX_PEAK_BEHIND_SECONDS behind (both in seconds of its input, so fast and slow
 * topics compare), and the candles did not come out later and later (`candleLatencyGrowthMs`, the
 * growth of their median latency over the window).
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
  if (marketEvents === undefined) reasons.push('no collector counts in the window');
  else if (marketEvents < MIN_PUBLISHED_SHARE * rate) {
    reasons.push(`the collector published ${Math.round(marketEvents)} of ${rate} market events/s`);
  }
  const verdicts = groups.flatMap((watch): GroupVerdict[] => {
    if (watch.judgedTopics.length === 0) return [];
    const lags = samples.flatMap((sample) => sample.groups[watch.group]?.judgedLag ?? []);
    const lows = firstAndLastLows(lags);
    const input = judgedInputRate(samples, watch.group);
    const perSecond = input && input > 0 ? input : undefined;
    const behindSeconds = lows && perSecond ? (lows[1] - lows[0]) / perSecond : null;
    const peakBehindSeconds = lags.length > 0 && perSecond ? Math.max(...lags) / perSecond : null;
    if (behindSeconds !== null && behindSeconds > tolerance) {
      reasons.push(`${watch.label} fell ${behindSeconds.toFixed(1)} s further behind`);
    } else if (peakBehindSeconds !== null && peakBehindSeconds > MAX_PEAK_BEHIND_SECONDS) {
      reasons.push(`${watch.label} was up to ${peakBehindSeconds.toFixed(0)} s behind`);
    }
    return [{ group: watch.group, label: watch.label, behindSeconds, peakBehindSeconds }];
  });
  const candleGrowth = candleLatencyGrowthMs === undefined ? null : candleLatencyGrowthMs / 1000;
  if (candleGrowth !== null && candleGrowth > tolerance)
    reasons.push(`the candles came out ${candleGrowth.toFixed(1)} s later at the end`);
  return {
    rate,
    seconds,
    marketEventsPerSecond: marketEvents ?? null,
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
