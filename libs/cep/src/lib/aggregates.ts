/**
 * Event-time sliding-window aggregates for conditions, each O(1) amortised per event: samples enter
 * at the back of a ring buffer and leave from the front when they fall out of the window, and the
 * moments are updated incrementally (Welford's update and its inverse, so no large sums cancel).
 */

/** What a condition reads from a windowed aggregate. */
export interface AggregateView {
  readonly count: number;
  /** Oldest value still in the window (NaN when empty): with the event's own value, the change over the window. */
  readonly first: number;
  /** Event time of the oldest value still in the window (NaN when empty). */
  readonly firstTs: number;
  /** Sum of the values (0 when empty). */
  readonly sum: number;
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

/**
 * A growable ring of (ts, x, y, w) samples, interleaved in one array so a sample shares its cache line
 * with its neighbours, and the oldest sample's time kept in a field so checking whether anything falls
 * out of the window does not touch the (cold) front of the ring. Samples take two slots (ts, x) until a
 * non-zero y or w arrives, then four: a plain mean/stddev window holds half the memory. The array is
 * reused, so the hot path allocates nothing.
 */
class SampleRing {
  private data: Float64Array<ArrayBuffer> = new Float64Array(16 * 2);
  /** Slots per sample: 2 (ts, x) or 4 (ts, x, y, w). */
  private stride = 2;
  /** Capacity in samples minus one (capacity is a power of two). */
  private mask = 15;
  private head = 0;
  size = 0;
  /** Time of the oldest sample (Infinity when empty). */
  frontTs = Number.POSITIVE_INFINITY;

  /** Value of the oldest sample (NaN when empty). */
  get frontX(): number {
    return this.size > 0 ? this.data[this.head * this.stride + 1] : Number.NaN;
  }
  lastX = 0;
  lastY = 0;
  lastW = 0;

  push(ts: number, x: number, y: number, w: number): void {
    if (this.stride === 2 && (y !== 0 || w !== 0)) this.resize(this.mask + 1, 4);
    if (this.size > this.mask) this.resize((this.mask + 1) * 2, this.stride);
    const data = this.data;
    const at = ((this.head + this.size) & this.mask) * this.stride;
    data[at] = ts;
    data[at + 1] = x;
    if (this.stride === 4) {
      data[at + 2] = y;
      data[at + 3] = w;
    }
    if (this.size === 0) this.frontTs = ts;
    this.size++;
  }

  /** Removes the oldest sample; its fields stay readable through the `last*` fields until the next call. */
  shift(): void {
    const data = this.data;
    const stride = this.stride;
    const at = this.head * stride;
    this.lastX = data[at + 1];
    if (stride === 4) {
      this.lastY = data[at + 2];
      this.lastW = data[at + 3];
    }
    this.head = (this.head + 1) & this.mask;
    this.size--;
    this.frontTs = this.size > 0 ? data[this.head * stride] : Number.POSITIVE_INFINITY;
  }

  toJSON(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.size; i++) {
      const at = ((this.head + i) & this.mask) * this.stride;
      const d = this.data;
      out.push(this.stride === 4 ? [d[at], d[at + 1], d[at + 2], d[at + 3]] : [d[at], d[at + 1], 0, 0]);
    }
    return out;
  }

  private resize(capacity: number, stride: number): void {
    const from = this.data;
    const to = new Float64Array(capacity * stride);
    if (stride === this.stride) {
      // The ring's two runs, oldest first: [head, end) then [0, head).
      const split = Math.min(from.length, (this.head + this.size) * stride) - this.head * stride;
      to.set(from.subarray(this.head * stride, this.head * stride + split));
      to.set(from.subarray(0, this.size * stride - split), split);
    } else {
      for (let i = 0; i < this.size; i++) {
        const at = ((this.head + i) & this.mask) * this.stride;
        to[i * stride] = from[at];
        to[i * stride + 1] = from[at + 1];
      }
    }
    this.data = to;
    this.stride = stride;
    this.mask = capacity - 1;
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

  get first(): number {
    return this.ring.frontX;
  }

  get firstTs(): number {
    return this.ring.size > 0 ? this.ring.frontTs : Number.NaN;
  }

  get sum(): number {
    return this.ring.size > 0 ? this.meanX * this.ring.size : 0;
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
    if (this.ring.frontTs <= ts - this.windowNs) this.evict(ts);
    this.ring.push(ts, x, y, w);
    const n = this.ring.size;
    const dx = x - this.meanX;
    this.meanX += dx / n;
    this.m2x += dx * (x - this.meanX);
    if (y !== 0 || this.meanY !== 0 || this.m2y !== 0) {
      // The paired series (all zeros in a plain window, where this is skipped).
      const dy = y - this.meanY;
      this.meanY += dy / n;
      this.m2y += dy * (y - this.meanY);
      this.cxy += dx * (y - this.meanY);
    }
    if (w !== 0) {
      this.sumPW += x * w;
      this.sumW += w;
    }
  }

  /** Drops samples at or before `now - windowNs`. */
  evict(now: number): void {
    const horizon = now - this.windowNs;
    while (this.ring.size > 0 && this.ring.frontTs <= horizon) {
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
    if (w !== 0) {
      this.sumPW -= x * w;
      this.sumW -= w;
    }
    if (n === 0) {
      this.meanX = this.meanY = this.m2x = this.m2y = this.cxy = this.sumPW = this.sumW = 0;
      return;
    }
    // Inverse of Welford's update: recover the moments of the remaining n samples.
    const meanX = this.meanX - (x - this.meanX) / n;
    if (y !== 0 || this.meanY !== 0 || this.m2y !== 0) {
      const meanY = this.meanY - (y - this.meanY) / n;
      this.m2y -= (y - meanY) * (y - this.meanY);
      this.cxy -= (x - meanX) * (y - this.meanY);
      this.meanY = meanY;
    }
    this.m2x -= (x - meanX) * (x - this.meanX);
    this.meanX = meanX;
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
