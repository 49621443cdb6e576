/**
 * Event time: per-input-partition watermarks (each the highest event time seen minus the bounded
 * out-of-orderness; the engine's watermark is their minimum, never moving back) and a reorder buffer
 * that releases events in event-time order once the watermark has passed them.
 */

/** Where a record came from; with `ts` it orders records totally, so ties never depend on arrival. */
export interface RecordId {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offset as a decimal string (64-bit). */
  readonly offset: string;
}

export interface CepRecord<E> extends RecordId {
  readonly event: E;
  /** Event time in nanoseconds on the engine's timeline (see `EventTimeline`). */
  readonly ts: number;
}

/** Orders by (ts, topic, partition, offset): the deterministic event-time order. */
export function compareRecords(a: CepRecord<unknown>, b: CepRecord<unknown>): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.partition !== b.partition) return a.partition - b.partition;
  return compareOffsets(a.offset, b.offset);
}

function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Tracks one watermark per input partition (`topic/partition`). Idle partitions can be excluded so a
 * quiet partition does not hold every other one back.
 */
export class WatermarkTracker {
  private readonly partitions = new Map<string, PartitionWatermark>();
  /** The same states indexed by topic and partition number, so the per-record path builds no strings. */
  private readonly byTopic = new Map<string, PartitionWatermark[]>();
  private readonly states: PartitionWatermark[] = [];
  private lastTopic: string | undefined;
  private lastPartitions: PartitionWatermark[] | undefined;
  /** The lowest highest-event-time over non-idle partitions, as of the last recompute. */
  private lowest = Number.NEGATIVE_INFINITY;
  private current = Number.NEGATIVE_INFINITY;

  constructor(readonly outOfOrdernessNs: number) {
    if (!(outOfOrdernessNs >= 0)) throw new RangeError(`out-of-orderness must be >= 0, got ${outOfOrdernessNs}`);
  }

  get watermark(): number {
    return this.current;
  }

  /** Records an event time seen on a partition; returns the (possibly advanced) watermark. */
  observe(partition: string, ts: number): number {
    const state = this.partitions.get(partition);
    if (!state) {
      this.add(partition, { maxTs: ts, idle: false });
      return this.recompute();
    }
    return this.update(state, ts);
  }

  /** `observe` for a record's topic and partition number, without building the partition's name. */
  observeRecord(topic: string, partition: number, ts: number): number {
    // Consecutive records mostly share a topic: remember the last one's partitions.
    const partitions = topic === this.lastTopic ? this.lastPartitions : this.byTopic.get(topic);
    const state = partitions?.[partition];
    if (state !== undefined) {
      this.lastTopic = topic;
      this.lastPartitions = partitions;
      return this.update(state, ts);
    }
    const name = `${topic}/${partition}`;
    let list = this.byTopic.get(topic);
    if (list === undefined) this.byTopic.set(topic, (list = []));
    const known = this.partitions.get(name);
    if (known !== undefined) {
      list[partition] = known;
      return this.update(known, ts);
    }
    const created = { maxTs: ts, idle: false };
    this.add(name, created);
    list[partition] = created;
    return this.recompute();
  }

  /** Excludes a partition from the minimum until it delivers again. */
  markIdle(partition: string): number {
    const state = this.partitions.get(partition);
    if (state) state.idle = true;
    return this.recompute();
  }

  /** Forces the watermark forward (end of input, or a watermark from upstream); it never moves back. */
  advanceTo(ts: number): number {
    if (ts > this.current) this.current = ts;
    return this.current;
  }

  partitionWatermarks(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, state] of this.partitions) out[name] = state.maxTs - this.outOfOrdernessNs;
    return out;
  }

  snapshot(): WatermarkSnapshot {
    return {
      current: Number.isFinite(this.current) ? this.current : null,
      partitions: [...this.partitions].map(([name, state]) => [name, state.maxTs, state.idle] as [string, number, boolean]),
    };
  }

  restore(snapshot: WatermarkSnapshot): void {
    this.partitions.clear();
    this.byTopic.clear();
    this.lastTopic = this.lastPartitions = undefined;
    this.states.length = 0;
    for (const [name, maxTs, idle] of snapshot.partitions) this.add(name, { maxTs, idle });
    this.current = snapshot.current ?? Number.NEGATIVE_INFINITY;
    this.recompute();
  }

  private add(name: string, state: PartitionWatermark): void {
    this.partitions.set(name, state);
    this.states.push(state);
  }

  private update(state: PartitionWatermark, ts: number): number {
    if (state.idle) {
      state.idle = false;
      if (ts > state.maxTs) state.maxTs = ts;
      return this.recompute();
    }
    if (ts <= state.maxTs) return this.current;
    // Only the partition holding the minimum can move it.
    const heldMinimum = state.maxTs <= this.lowest;
    state.maxTs = ts;
    return heldMinimum ? this.recompute() : this.current;
  }

  /**
   * The minimum over partitions that are not idle. When every partition is idle, the maximum over all:
   * what marking them idle one by one, lowest first, gives, so the result does not depend on the order
   * in which partitions were found idle.
   */
  private recompute(): number {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    const states = this.states;
    for (let i = 0; i < states.length; i++) {
      if (!states[i].idle && states[i].maxTs < min) min = states[i].maxTs;
      if (states[i].maxTs > max) max = states[i].maxTs;
    }
    this.lowest = min;
    const basis = min !== Number.POSITIVE_INFINITY ? min : max;
    if (basis !== Number.NEGATIVE_INFINITY) {
      const candidate = basis - this.outOfOrdernessNs;
      if (candidate > this.current) this.current = candidate;
    }
    return this.current;
  }
}

interface PartitionWatermark {
  maxTs: number;
  idle: boolean;
}

export interface WatermarkSnapshot {
  /** null before the first watermark (JSON has no -Infinity). */
  current: number | null;
  partitions: [string, number, boolean][];
}

/**
 * A binary min-heap of records in `compareRecords` order. Event times sit in a parallel typed array,
 * so sifting compares numbers held next to each other and reads a record only to break a tie.
 */
export class ReorderBuffer<E> {
  private heap: CepRecord<E>[] = [];
  private times: Float64Array<ArrayBuffer> = new Float64Array(256);

  get size(): number {
    return this.heap.length;
  }

  push(record: CepRecord<E>): void {
    const heap = this.heap;
    let i = heap.length;
    if (i === this.times.length) this.grow();
    const times = this.times;
    const ts = record.ts;
    heap.push(record);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pts = times[parent];
      if (pts < ts || (pts === ts && compareRecords(heap[parent], record) <= 0)) break;
      heap[i] = heap[parent];
      times[i] = pts;
      i = parent;
    }
    heap[i] = record;
    times[i] = ts;
  }

  peek(): CepRecord<E> | undefined {
    return this.heap[0];
  }

  pop(): CepRecord<E> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    const n = heap.length;
    if (n > 0 && last !== undefined) {
      const times = this.times;
      const ts = times[n];
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        let child = left;
        if (right < n) {
          const lt = times[left];
          const rt = times[right];
          if (rt < lt || (rt === lt && compareRecords(heap[right], heap[left]) < 0)) child = right;
        }
        const ct = times[child];
        if (ct > ts || (ct === ts && compareRecords(heap[child], last) >= 0)) break;
        heap[i] = heap[child];
        times[i] = ct;
        i = child;
      }
      heap[i] = last;
      times[i] = ts;
    }
    return top;
  }

  /** The buffered records in release order (for snapshots). */
  sorted(): CepRecord<E>[] {
    return this.heap.slice().sort(compareRecords);
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    this.times = times;
  }
}

/**
 * Converts `EpochNanos` decimal strings to engine times exactly: nanoseconds since a base instant,
 * exact as a double for 104 days either side of it, without BigInt on the hot path.
 */
export class EventTimeline {
  private readonly baseSeconds: number;
  private readonly baseNanos: number;

  constructor(readonly base: string) {
    [this.baseSeconds, this.baseNanos] = splitNanos(base);
  }

  toEngineTime(epochNanos: string): number {
    const [seconds, nanos] = splitNanos(epochNanos);
    return (seconds - this.baseSeconds) * 1e9 + (nanos - this.baseNanos);
  }

  toEpochNanos(engineTime: number): string {
    const total = BigInt(this.baseSeconds) * 1_000_000_000n + BigInt(this.baseNanos) + BigInt(Math.round(engineTime));
    return total.toString();
  }
}

function splitNanos(epochNanos: string): [number, number] {
  if (epochNanos.length <= 9) return [0, Number(epochNanos)];
  return [Number(epochNanos.slice(0, -9)), Number(epochNanos.slice(-9))];
}
