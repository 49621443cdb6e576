import { createHash } from 'node:crypto';

/**
 * The data quality checks of trades, each with bounded memory: duplicates by fingerprint within an
 * event-time window, price outliers against a rolling mean and deviation per symbol (fat fingers),
 * and gaps in a symbol's stream at several granularities. Pure: the processor feeds them records in
 * offset order and acts on what they say.
 */

/** Where a record was read. */
export interface RecordPosition {
  readonly partition: number;
  readonly offset: string;
}

/** A Map that keeps at most `limit` keys, forgetting the least recently used. */
export class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`limit must be >= 1, got ${limit}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as K);
  }
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The fingerprint of a record: its idempotency key when the producer gave one, else a hash of the canonical value. */
export function fingerprintOf(value: unknown, idempotencyKey: string | undefined): string {
  if (idempotencyKey !== undefined && idempotencyKey !== '') return `key:${idempotencyKey}`;
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 40)}`;
}

export interface DuplicateFilterOptions {
  /** How long (in event time) a fingerprint is remembered. */
  readonly windowMs: number;
  /** At most this many fingerprints are kept; beyond it the oldest are forgotten first. */
  readonly maxEntries: number;
}

interface Sighting extends RecordPosition {
  readonly eventTimeMs: number;
}

/**
 * Remembers fingerprints for a window of event time: a record whose fingerprint was seen within the
 * window, at another position, is a duplicate. The same position seen again is a redelivery of the
 * same record (a retried batch), not a duplicate.
 */
export class DuplicateFilter {
  private readonly seen = new Map<string, Sighting>();
  private latestMs = Number.NEGATIVE_INFINITY;

  constructor(readonly options: DuplicateFilterOptions) {
    if (!(options.windowMs > 0)) throw new RangeError('windowMs must be > 0');
    if (!(options.maxEntries >= 1)) throw new RangeError('maxEntries must be >= 1');
  }

  get size(): number {
    return this.seen.size;
  }

  /** The first sighting when `fingerprint` is a duplicate; otherwise remembers it and answers undefined. */
  check(fingerprint: string, eventTimeMs: number, position: RecordPosition): RecordPosition | undefined {
    if (eventTimeMs > this.latestMs) this.latestMs = eventTimeMs;
    const previous = this.seen.get(fingerprint);
    if (previous !== undefined) {
      const samePosition = previous.partition === position.partition && previous.offset === position.offset;
      if (!samePosition && this.latestMs - previous.eventTimeMs <= this.options.windowMs) {
        return { partition: previous.partition, offset: previous.offset };
      }
      if (samePosition) return undefined;
      this.seen.delete(fingerprint);
    }
    this.seen.set(fingerprint, { partition: position.partition, offset: position.offset, eventTimeMs });
    this.evict();
    return undefined;
  }

  /** Insertion order is roughly event-time order: expired and surplus entries leave from the front. */
  private evict(): void {
    for (const [fingerprint, sighting] of this.seen) {
      const expired = this.latestMs - sighting.eventTimeMs > this.options.windowMs;
      if (!expired && this.seen.size <= this.options.maxEntries) break;
      this.seen.delete(fingerprint);
    }
  }
}

export interface OutlierOptions {
  /** A price this many standard deviations from the rolling mean is an outlier. */
  readonly zThreshold: number;
  /** Trades of a symbol needed before any of its prices is judged. */
  readonly minHistory: number;
  /** Trades in the rolling window. */
  readonly window: number;
  /** A price must also be this far from the mean, in basis points, so a quiet symbol's tick is no outlier. */
  readonly minMoveBps: number;
  /** This many outliers in a row on the same side are a new price level: the history restarts from them. */
  readonly levelShiftAfter: number;
  /** Symbols tracked at once (least recently traded forgotten first). */
  readonly maxSymbols: number;
}

export interface OutlierVerdict {
  readonly outlier: boolean;
  /** Rolling statistics before this trade; absent while the history is too short. */
  readonly mean?: number;
  readonly stddev?: number;
  readonly zScore?: number;
  /** True when this trade completed a run of outliers taken as a new price level. */
  readonly levelShift?: boolean;
}

/** Rolling mean and variance of the last `capacity` prices, on prices shifted by the first one (less cancellation). */
class RollingPrices {
  private readonly prices: Float64Array;
  private count = 0;
  private next = 0;
  private sum = 0;
  private sumSquares = 0;
  private pushesSinceExact = 0;
  private readonly shift: number;
  /** Consecutive outliers, with the side (+1 above, -1 below) they were on. */
  run: number[] = [];
  runSide = 0;

  constructor(capacity: number, first: number) {
    this.prices = new Float64Array(capacity);
    this.shift = first;
  }

  get size(): number {
    return this.count;
  }

  mean(): number {
    return this.shift + this.sum / this.count;
  }

  stddev(): number {
    if (this.count < 2) return 0;
    const mean = this.sum / this.count;
    const variance = (this.sumSquares - this.count * mean * mean) / (this.count - 1);
    return variance > 0 ? Math.sqrt(variance) : 0;
  }

  push(price: number): void {
    const value = price - this.shift;
    if (this.count === this.prices.length) {
      const old = this.prices[this.next];
      this.sum -= old;
      this.sumSquares -= old * old;
    } else {
      this.count++;
    }
    this.prices[this.next] = value;
    this.next = (this.next + 1) % this.prices.length;
    this.sum += value;
    this.sumSquares += value * value;
    // Running sums drift with subtraction; recomputed exactly once per window.
    if (++this.pushesSinceExact >= this.prices.length) {
      this.pushesSinceExact = 0;
      let sum = 0;
      let squares = 0;
      for (let index = 0; index < this.count; index++) {
        sum += this.prices[index];
        squares += this.prices[index] * this.prices[index];
      }
      this.sum = sum;
      this.sumSquares = squares;
    }
  }
}

/** Fat-finger detection: a trade price far from the symbol's recent prices. */
export class PriceOutlierDetector {
  private readonly symbols: BoundedMap<string, RollingPrices>;

  constructor(readonly options: OutlierOptions) {
    if (!(options.zThreshold > 0)) throw new RangeError('zThreshold must be > 0');
    if (!(options.minHistory >= 2)) throw new RangeError('minHistory must be >= 2');
    if (!(options.window >= options.minHistory)) throw new RangeError('window must be >= minHistory');
    if (!(options.levelShiftAfter >= 1)) throw new RangeError('levelShiftAfter must be >= 1');
    this.symbols = new BoundedMap(options.maxSymbols);
  }

  get trackedSymbols(): number {
    return this.symbols.size;
  }

  check(symbol: string, price: number): OutlierVerdict {
    let history = this.symbols.get(symbol);
    if (history === undefined) {
      history = new RollingPrices(this.options.window, price);
      history.push(price);
      this.symbols.set(symbol, history);
      return { outlier: false };
    }
    if (history.size < this.options.minHistory) {
      history.push(price);
      return { outlier: false };
    }
    const mean = history.mean();
    const stddev = history.stddev();
    const distance = price - mean;
    const zScore = stddev > 0 ? distance / stddev : distance === 0 ? 0 : Math.sign(distance) * Number.MAX_VALUE;
    const moveBps = (Math.abs(distance) / mean) * 10_000;
    const outlier = Math.abs(zScore) > this.options.zThreshold && moveBps > this.options.minMoveBps;
    if (!outlier) {
      history.run = [];
      history.runSide = 0;
      history.push(price);
      return { outlier: false, mean, stddev, zScore };
    }
    const side = Math.sign(distance);
    if (side !== history.runSide) {
      history.run = [];
      history.runSide = side;
    }
    history.run.push(price);
    if (history.run.length >= this.options.levelShiftAfter) {
      // A lasting move, not a typo: the symbol's history restarts at the new level.
      const restarted = new RollingPrices(this.options.window, history.run[0]);
      for (const runPrice of history.run) restarted.push(runPrice);
      this.symbols.set(symbol, restarted);
      return { outlier: true, mean, stddev, zScore, levelShift: true };
    }
    return { outlier: true, mean, stddev, zScore };
  }
}

export interface GapOptions {
  /** Granularities in milliseconds, e.g. 500, 5000, 30000. */
  readonly granularitiesMs: readonly number[];
  readonly maxSymbols: number;
}

export interface Gap {
  readonly gapMs: number;
  /** Every granularity the gap is longer than, ascending. */
  readonly exceededMs: number[];
}

/** Gaps in a symbol's stream: event time since its latest earlier record, against each granularity. */
export class GapDetector {
  private readonly latest: BoundedMap<string, number>;
  private readonly granularities: number[];

  constructor(readonly options: GapOptions) {
    if (options.granularitiesMs.length === 0) throw new RangeError('at least one granularity');
    if (options.granularitiesMs.some((ms) => !(ms > 0))) throw new RangeError('granularities must be > 0');
    this.granularities = [...options.granularitiesMs].sort((a, b) => a - b);
    this.latest = new BoundedMap(options.maxSymbols);
  }

  /** The gap before this record, when it exceeds the smallest granularity; out-of-order records never make one. */
  check(symbol: string, eventTimeMs: number): Gap | undefined {
    const previous = this.latest.get(symbol);
    if (previous === undefined || eventTimeMs > previous) this.latest.set(symbol, eventTimeMs);
    if (previous === undefined || eventTimeMs <= previous) return undefined;
    const gapMs = eventTimeMs - previous;
    const exceededMs = this.granularities.filter((granularity) => gapMs > granularity);
    return exceededMs.length > 0 ? { gapMs, exceededMs } : undefined;
  }
}

/** Milliseconds as the duration text of the contracts: "500ms", "5s", "2m", "1h". */
export function durationText(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Event time in epoch milliseconds (fractional) of an epoch-nanoseconds text. */
export function millisOf(epochNanos: string): number {
  return Number(epochNanos.slice(0, -6)) + Number(epochNanos.slice(-6)) / 1e6;
}
