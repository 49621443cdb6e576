/**
 * Event-time sliding-window aggregates for conditions, each O(1) amortised per event: samples enter
 * at the back of a ring buffer and leave from the front when they fall out of the window, and the
 * moments are updated incrementally (Welford's update and its inverse, so no large sums cancel).
 */

/** What a condition reads from a windowed aggregate. */
export interface AggregateView {
  readonly count: number;
  readonly mean: number;
  readonly variance: number;
  readonly stddev: number;
  /** Volume-weighted average of the values (NaN without volume). */
  readonly vwap: number;
  /** Pearson correlation of the paired samples (NaN for fewer than two or a constant series). */
  readonly correlation: number;
  /** How many standard deviations `value` lies from the window mean (NaN when undefined). */
  zscore(value: number): number;
}

/** A growable ring of (ts, x, y, w) samples; the arrays are reused to keep the hot path allocation-free. */
class SampleRing {
  private ts: Float64Array<ArrayBuffer> = new Float64Array(16);
  private xs: Float64Array<ArrayBuffer> = new Float64Array(16);
  private ys: Float64Array<ArrayBuffer> = new Float64Array(16);
  private ws: Float64Array<ArrayBuffer> = new Float64Array(16);
  private head = 0;
  size = 0;

  push(ts: number, x: number, y: number, w: number): void {
    if (this.size === this.ts.length) this.grow();
    const at = (this.head + this.size) & (this.ts.length - 1);
    this.ts[at] = ts;
    this.xs[at] = x;
    this.ys[at] = y;
    this.ws[at] = w;
    this.size++;
  }

  frontTs(): number {
    return this.ts[this.head];
  }

  /** Removes the oldest sample; its fields stay readable through the `last*` fields until the next call. */
  shift(): void {
    this.lastX = this.xs[this.head];
    this.lastY = this.ys[this.head];
    this.lastW = this.ws[this.head];
    this.head = (this.head + 1) & (this.ts.length - 1);
    this.size--;
  }

  lastX = 0;
  lastY = 0;
  lastW = 0;

  toJSON(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.size; i++) {
      const at = (this.head + i) & (this.ts.length - 1);
      out.push([this.ts[at], this.xs[at], this.ys[at], this.ws[at]]);
    }
    return out;
  }

  private grow(): void {
    const capacity = this.ts.length * 2;
    const copy = (from: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
      const to = new Float64Array(capacity);
      for (let i = 0; i < this.size; i++) to[i] = from[(this.head + i) & (from.length - 1)];
      return to;
    };
    this.ts = copy(this.ts);
    this.xs = copy(this.xs);
    this.ys = copy(this.ys);
    this.ws = copy(this.ws);
    this.head = 0;
  }
}

/**
 * Rolling mean, variance, VWAP, z-score and (for paired samples) correlation over the last
 * `windowNs` of event time. A sample at time t stays while t > now - windowNs.
 */
export class RollingWindow implements AggregateView {
  private readonly ring = new SampleRing();
  private meanX = 0;
  private meanY = 0;
  private m2x = 0;
  private m2y = 0;
  private cxy = 0;
  private sumPW = 0;
  private sumW = 0;

  constructor(readonly windowNs: number) {
    if (!(windowNs > 0)) throw new RangeError(`window must be positive, got ${windowNs}`);
  }

  get count(): number {
    return this.ring.size;
  }

  get mean(): number {
    return this.ring.size > 0 ? this.meanX : Number.NaN;
  }

  /** Sample variance (n - 1). */
  get variance(): number {
    return this.ring.size > 1 ? Math.max(0, this.m2x) / (this.ring.size - 1) : Number.NaN;
  }

  get stddev(): number {
    return Math.sqrt(this.variance);
  }

  get vwap(): number {
    return this.sumW > 0 ? this.sumPW / this.sumW : Number.NaN;
  }

  get correlation(): number {
    if (this.ring.size < 2 || this.m2x <= 0 || this.m2y <= 0) return Number.NaN;
    return Math.max(-1, Math.min(1, this.cxy / Math.sqrt(this.m2x * this.m2y)));
  }

  zscore(value: number): number {
    const sd = this.stddev;
    return sd > 0 ? (value - this.meanX) / sd : Number.NaN;
  }

  /** Adds a sample: `x` the value, `y` the paired value (correlation), `w` the weight (volume, for VWAP). */
  add(ts: number, x: number, y = 0, w = 0): void {
    this.evict(ts);
    this.ring.push(ts, x, y, w);
    const n = this.ring.size;
    const dx = x - this.meanX;
    this.meanX += dx / n;
    const dy = y - this.meanY;
    this.meanY += dy / n;
    this.m2x += dx * (x - this.meanX);
    this.m2y += dy * (y - this.meanY);
    this.cxy += dx * (y - this.meanY);
    this.sumPW += x * w;
    this.sumW += w;
  }

  /** Drops samples at or before `now - windowNs`. */
  evict(now: number): void {
    const horizon = now - this.windowNs;
    while (this.ring.size > 0 && this.ring.frontTs() <= horizon) {
      this.ring.shift();
      this.remove(this.ring.lastX, this.ring.lastY, this.ring.lastW);
    }
  }

  snapshot(): number[][] {
    return this.ring.toJSON();
  }

  static restore(windowNs: number, samples: readonly (readonly number[])[]): RollingWindow {
    const window = new RollingWindow(windowNs);
    for (const [ts, x, y, w] of samples) window.add(ts, x, y, w);
    return window;
  }

  private remove(x: number, y: number, w: number): void {
    const n = this.ring.size;
    this.sumPW -= x * w;
    this.sumW -= w;
    if (n === 0) {
      this.meanX = this.meanY = this.m2x = this.m2y = this.cxy = this.sumPW = this.sumW = 0;
      return;
    }
    // Inverse of Welford's update: recover the moments of the remaining n samples.
    const meanX = this.meanX - (x - this.meanX) / n;
    const meanY = this.meanY - (y - this.meanY) / n;
    this.m2x -= (x - meanX) * (x - this.meanX);
    this.m2y -= (y - meanY) * (y - this.meanY);
    this.cxy -= (x - meanX) * (y - this.meanY);
    this.meanX = meanX;
    this.meanY = meanY;
  }
}

/**
 * Rolling correlation of two keyed series (e.g. SPY and QQQ mid prices): each update of either side
 * adds a pair of the latest values of both, once both have been seen.
 */
export class PairedSeriesCorrelation {
  private lastX = Number.NaN;
  private lastY = Number.NaN;
  readonly window: RollingWindow;

  constructor(windowNs: number) {
    this.window = new RollingWindow(windowNs);
  }

  updateX(ts: number, x: number): void {
    this.lastX = x;
    this.sample(ts);
  }

  updateY(ts: number, y: number): void {
    this.lastY = y;
    this.sample(ts);
  }

  get correlation(): number {
    return this.window.correlation;
  }

  private sample(ts: number): void {
    if (!Number.isNaN(this.lastX) && !Number.isNaN(this.lastY)) this.window.add(ts, this.lastX, this.lastY);
  }
}

/**
 * Interval join of two event-time ordered streams: each left at time t pairs with every right in
 * [t - beforeNs, t + afterNs], emitted once when the later of the two arrives. Feed both sides in
 * event-time order (e.g. after the engine's reorder stage) and call `expire(watermark)` to bound state.
 */
export class IntervalJoin<L, R> {
  private lefts: { ts: number; value: L }[] = [];
  private rights: { ts: number; value: R }[] = [];

  constructor(
    readonly beforeNs: number,
    readonly afterNs: number,
  ) {}

  addLeft(ts: number, value: L, emit: (left: L, right: R) => void): void {
    for (const right of this.rights) if (right.ts >= ts - this.beforeNs && right.ts <= ts + this.afterNs) emit(value, right.value);
    this.lefts.push({ ts, value });
  }

  addRight(ts: number, value: R, emit: (left: L, right: R) => void): void {
    for (const left of this.lefts) if (ts >= left.ts - this.beforeNs && ts <= left.ts + this.afterNs) emit(left.value, value);
    this.rights.push({ ts, value });
  }

  /** Drops entries that no future (at or after `watermark`) event can join. */
  expire(watermark: number): void {
    const leftHorizon = watermark - this.afterNs;
    const rightHorizon = watermark - this.beforeNs;
    if (this.lefts.length > 0 && this.lefts[0].ts < leftHorizon) this.lefts = this.lefts.filter((left) => left.ts >= leftHorizon);
    if (this.rights.length > 0 && this.rights[0].ts < rightHorizon) this.rights = this.rights.filter((right) => right.ts >= rightHorizon);
  }

  get size(): number {
    return this.lefts.length + this.rights.length;
  }
}
