/**
 * The keyed CEP engine: pure, synchronous and deterministic, with time taken only from the events.
 * Records go through the watermark/reorder stage, then each released record advances its key's
 * automata. Outputs accumulate until `drain()`, so a caller can write them together with the input
 * offsets (one transaction) and take a `snapshot()` at the same point.
 */
import { RollingWindow, type AggregateView } from './aggregates';
import { compilePattern, eventsByStage, NfaStep, type CompiledPattern, type MatchedEvent, type PartialMatch, type RawMatch, type BufferNode } from './nfa';
import { Pattern, type PatternDefinitionOf } from './pattern';
import { ReorderBuffer, WatermarkTracker, type CepRecord, type WatermarkSnapshot } from './watermark';

export interface PatternSpec<E> {
  readonly id: string;
  readonly version: number;
  readonly pattern: Pattern<E> | PatternDefinitionOf<E>;
}

/** A per-key event-time window of a value, readable from conditions as `ctx.aggregate(name)`. */
export interface AggregateSpec<E> {
  readonly name: string;
  readonly windowNs: number;
  /** The sample of an event, or undefined to leave the window unchanged. */
  value(event: E): number | undefined;
  /** Weight for VWAP (e.g. size). */
  weight?(event: E): number;
  /** Second series for correlation. */
  paired?(event: E): number;
}

export interface CepEngineOptions<E> {
  readonly patterns: readonly PatternSpec<E>[];
  keyBy(event: E): string;
  readonly outOfOrdernessNs: number;
  /** Records up to this far behind the watermark are still applied when in order for their key. */
  readonly allowedLatenessNs?: number;
  /** A key with no partial match and no event for this long (event time) is dropped. */
  readonly idleKeyTtlNs?: number;
  readonly aggregates?: readonly AggregateSpec<E>[];
}

export interface CepMatch<E> {
  readonly patternId: string;
  readonly version: number;
  readonly key: string;
  readonly events: Record<string, MatchedEvent<E>[]>;
  readonly windowStart: number;
  /** End of the pattern's `within` window (the last event's time when it has none). */
  readonly windowEnd: number;
  readonly lastEventTs: number;
}

export interface CepTimeout<E> extends CepMatch<E> {
  /** The event time at which the partial match expired. */
  readonly timeoutTs: number;
}

export interface LateRecord<E> {
  readonly record: CepRecord<E>;
  readonly watermark: number;
}

export interface CepOutput<E> {
  matches: CepMatch<E>[];
  timeouts: CepTimeout<E>[];
  late: LateRecord<E>[];
}

export interface CepStateStats {
  readonly keys: number;
  readonly partialMatches: number;
  readonly bufferedRecords: number;
  readonly watermark: number;
  readonly partialMatchesByPattern: Record<string, number>;
}

interface KeyState<E> {
  readonly key: string;
  seq: number;
  /** Time of the last event applied to this key. */
  lastTs: number;
  runs: PartialMatch<E>[][];
  readonly windows: RollingWindow[];
  /** Deadline the key is scheduled at in the timer queue. */
  scheduled: number;
}

interface Timer {
  readonly at: number;
  readonly key: string;
}

export class CepEngine<E> {
  private readonly compiled: { spec: PatternSpec<E>; nfa: CompiledPattern<E>; step: NfaStep<E> }[];
  private readonly tracker: WatermarkTracker;
  private readonly buffer = new ReorderBuffer<E>();
  private readonly keys = new Map<string, KeyState<E>>();
  private readonly timers: Timer[] = [];
  private readonly aggregateIndex = new Map<string, number>();
  private output: CepOutput<E> = { matches: [], timeouts: [], late: [] };
  private readonly rawMatches: RawMatch<E>[] = [];
  private scopeKey!: KeyState<E>;
  private readonly scope = {
    key: '',
    aggregate: (name: string): AggregateView => {
      const index = this.aggregateIndex.get(name);
      if (index === undefined) throw new Error(`no aggregate named '${name}'`);
      return this.scopeKey.windows[index];
    },
  };

  constructor(private readonly options: CepEngineOptions<E>) {
    const ids = new Set<string>();
    this.compiled = options.patterns.map((spec) => {
      if (ids.has(spec.id)) throw new Error(`pattern id '${spec.id}' is used twice`);
      ids.add(spec.id);
      const def = spec.pattern instanceof Pattern ? spec.pattern.definition() : spec.pattern;
      const nfa = compilePattern(def);
      return { spec, nfa, step: new NfaStep(nfa) };
    });
    (options.aggregates ?? []).forEach((aggregate, index) => this.aggregateIndex.set(aggregate.name, index));
    this.tracker = new WatermarkTracker(options.outOfOrdernessNs);
  }

  get watermark(): number {
    return this.tracker.watermark;
  }

  /** Accepts one record from an input partition and processes whatever the watermark releases. */
  ingest(record: CepRecord<E>): void {
    const watermark = this.tracker.watermark;
    if (record.ts < watermark) {
      this.handleLate(record, watermark);
      return;
    }
    this.buffer.push(record);
    const next = this.tracker.observe(`${record.topic}/${record.partition}`, record.ts);
    if (next > watermark) this.release(next);
  }

  /** Excludes an input partition from the watermark until it delivers again (e.g. it went quiet). */
  markIdle(topic: string, partition: number): void {
    const before = this.tracker.watermark;
    const after = this.tracker.markIdle(`${topic}/${partition}`);
    if (after > before) this.release(after);
  }

  /** Moves event time forward explicitly; `Infinity` flushes everything (end of a bounded input). */
  advanceWatermark(ts: number): void {
    const before = this.tracker.watermark;
    const after = this.tracker.advanceTo(ts);
    if (after > before) this.release(after);
  }

  /** Returns and clears the outputs accumulated since the last call. */
  drain(): CepOutput<E> {
    const out = this.output;
    this.output = { matches: [], timeouts: [], late: [] };
    return out;
  }

  stats(): CepStateStats {
    let partialMatches = 0;
    const byPattern: Record<string, number> = {};
    for (const { spec } of this.compiled) byPattern[spec.id] = 0;
    for (const state of this.keys.values()) {
      state.runs.forEach((run, index) => {
        partialMatches += run.length;
        byPattern[this.compiled[index].spec.id] += run.length;
      });
    }
    return { keys: this.keys.size, partialMatches, bufferedRecords: this.buffer.size, watermark: this.tracker.watermark, partialMatchesByPattern: byPattern };
  }

  // ---- event-time processing ----

  private handleLate(record: CepRecord<E>, watermark: number): void {
    const lateness = this.options.allowedLatenessNs ?? 0;
    const key = this.options.keyBy(record.event);
    const state = this.keys.get(key);
    // Within the allowed lateness a record is still applied if its key has not moved past it.
    if (record.ts >= watermark - lateness && (!state || record.ts >= state.lastTs)) {
      this.apply(record);
      return;
    }
    this.output.late.push({ record, watermark });
  }

  private release(watermark: number): void {
    for (;;) {
      const head = this.buffer.peek();
      if (head === undefined || head.ts > watermark) break;
      this.fireTimers(head.ts);
      this.apply(this.buffer.pop()!);
    }
    this.fireTimers(watermark);
  }

  private apply(record: CepRecord<E>): void {
    const key = this.options.keyBy(record.event);
    let state = this.keys.get(key);
    if (!state) {
      state = {
        key,
        seq: 0,
        lastTs: record.ts,
        runs: this.compiled.map(() => []),
        windows: (this.options.aggregates ?? []).map((aggregate) => new RollingWindow(aggregate.windowNs)),
        scheduled: Number.POSITIVE_INFINITY,
      };
      this.keys.set(key, state);
    }
    this.expire(state, record.ts);
    const seq = ++state.seq;
    if (record.ts > state.lastTs) state.lastTs = record.ts;
    this.scopeKey = state;
    this.scope.key = key;
    const windows = state.windows;
    for (let i = 0; i < windows.length; i++) windows[i].evict(record.ts);
    for (let p = 0; p < this.compiled.length; p++) {
      const { step } = this.compiled[p];
      const matches = this.rawMatches;
      matches.length = 0;
      state.runs[p] = step.step(this.scope, state.runs[p], record, seq, matches);
      for (let m = 0; m < matches.length; m++) this.emitMatch(p, key, matches[m]);
    }
    // Aggregates are updated after the conditions ran, so a condition compares the event with its past.
    const aggregates = this.options.aggregates;
    if (aggregates) {
      for (let i = 0; i < aggregates.length; i++) {
        const value = aggregates[i].value(record.event);
        if (value !== undefined) windows[i].add(record.ts, value, aggregates[i].paired?.(record.event) ?? 0, aggregates[i].weight?.(record.event) ?? 0);
      }
    }
    this.schedule(state);
  }

  /** Times out partial matches whose window has closed at `now`. */
  private expire(state: KeyState<E>, now: number): void {
    for (let p = 0; p < this.compiled.length; p++) {
      const { nfa } = this.compiled[p];
      const run = state.runs[p];
      if (run.length === 0 || nfa.withinNs === Number.POSITIVE_INFINITY) continue;
      let expired = false;
      for (let i = 0; i < run.length; i++) if (now - run[i].startTs >= nfa.withinNs) expired = true;
      if (!expired) continue;
      const alive: PartialMatch<E>[] = [];
      const done: PartialMatch<E>[] = [];
      for (const pm of run) (now - pm.startTs >= nfa.withinNs ? done : alive).push(pm);
      state.runs[p] = alive;
      for (const pm of done) {
        const timeoutTs = pm.startTs + nfa.withinNs;
        if (pm.stage === nfa.stages.length) {
          // The final notFollowedBy held for the whole window: the match completes now.
          this.emitMatch(p, state.key, { tail: pm.tail!, startTs: pm.startTs, startSeq: pm.startSeq, lastSeq: pm.lastSeq });
        } else {
          this.output.timeouts.push({ ...this.describe(p, state.key, pm.tail, pm.startTs), timeoutTs });
        }
      }
    }
  }

  private emitMatch(p: number, key: string, match: RawMatch<E>): void {
    this.output.matches.push(this.describe(p, key, match.tail, match.startTs));
  }

  private describe(p: number, key: string, tail: BufferNode<E> | null, startTs: number): CepMatch<E> {
    const { spec, nfa } = this.compiled[p];
    const lastEventTs = tail ? tail.record.ts : startTs;
    return {
      patternId: spec.id,
      version: spec.version,
      key,
      events: eventsByStage(nfa, tail),
      windowStart: startTs,
      windowEnd: nfa.withinNs === Number.POSITIVE_INFINITY ? lastEventTs : startTs + nfa.withinNs,
      lastEventTs,
    };
  }

  // ---- timers: window expiry and idle-key cleanup, driven by the watermark ----

  private deadlineOf(state: KeyState<E>): number {
    let deadline = Number.POSITIVE_INFINITY;
    for (let p = 0; p < this.compiled.length; p++) {
      const within = this.compiled[p].nfa.withinNs;
      const run = state.runs[p];
      if (within === Number.POSITIVE_INFINITY) continue;
      for (let i = 0; i < run.length; i++) if (run[i].startTs + within < deadline) deadline = run[i].startTs + within;
    }
    const ttl = this.options.idleKeyTtlNs;
    if (ttl !== undefined) deadline = Math.min(deadline, state.lastTs + ttl);
    return deadline;
  }

  private schedule(state: KeyState<E>): void {
    const deadline = this.deadlineOf(state);
    if (deadline < state.scheduled) {
      state.scheduled = deadline;
      pushTimer(this.timers, { at: deadline, key: state.key });
    }
  }

  private fireTimers(now: number): void {
    const timers = this.timers;
    while (timers.length > 0 && timers[0].at <= now) {
      const timer = popTimer(timers);
      const state = this.keys.get(timer.key);
      if (!state || state.scheduled !== timer.at) continue; // superseded
      state.scheduled = Number.POSITIVE_INFINITY;
      this.expire(state, timer.at);
      const ttl = this.options.idleKeyTtlNs;
      // An idle key goes whole, including partial matches of patterns without `within`.
      if (ttl !== undefined && timer.at >= state.lastTs + ttl) this.keys.delete(state.key);
      else this.schedule(state);
    }
  }

  // ---- checkpoints ----

  /** A JSON-serialisable copy of the whole state (events must be JSON values themselves). */
  snapshot(): CepSnapshot<E> {
    const records: CepRecord<E>[] = [];
    const recordIds = new Map<CepRecord<E>, number>();
    const nodes: [number, number, number, number][] = [];
    const nodeIds = new Map<BufferNode<E>, number>();
    const recordId = (record: CepRecord<E>): number => {
      let id = recordIds.get(record);
      if (id === undefined) {
        id = records.length;
        records.push(record);
        recordIds.set(record, id);
      }
      return id;
    };
    const nodeId = (node: BufferNode<E> | null): number => {
      if (node === null) return -1;
      let id = nodeIds.get(node);
      if (id === undefined) {
        const prev = nodeId(node.prev);
        id = nodes.length;
        nodes.push([recordId(node.record), node.seq, node.stage, prev]);
        nodeIds.set(node, id);
      }
      return id;
    };
    const keys = [...this.keys.values()]
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((state) => ({
        key: state.key,
        seq: state.seq,
        lastTs: state.lastTs,
        runs: Object.fromEntries(
          state.runs.map((run, p) => [
            this.compiled[p].spec.id,
            run.map((pm) => [pm.stage, pm.count, nodeId(pm.tail), pm.startTs, pm.startSeq, pm.lastSeq, pm.blocked ? 1 : 0] as SnapshotPartial),
          ]),
        ),
        windows: state.windows.map((window) => window.snapshot()),
      }));
    return {
      format: 1,
      watermark: this.tracker.snapshot(),
      buffered: this.buffer.sorted(),
      records,
      nodes,
      keys,
    };
  }

  /** Rebuilds an engine from a snapshot; state of patterns absent from `options` is dropped, new patterns start empty. */
  static restore<E>(options: CepEngineOptions<E>, snapshot: CepSnapshot<E>): CepEngine<E> {
    if (snapshot.format !== 1) throw new Error(`unknown CEP snapshot format ${snapshot.format}`);
    const engine = new CepEngine(options);
    engine.tracker.restore(snapshot.watermark);
    for (const record of snapshot.buffered) engine.buffer.push(record);
    const nodes: (BufferNode<E> | null)[] = [];
    for (const [record, seq, stage, prev] of snapshot.nodes) {
      nodes.push({ record: snapshot.records[record], seq, stage, prev: prev < 0 ? null : nodes[prev] });
    }
    for (const saved of snapshot.keys) {
      const state: KeyState<E> = {
        key: saved.key,
        seq: saved.seq,
        lastTs: saved.lastTs,
        runs: engine.compiled.map(({ spec }) =>
          (saved.runs[spec.id] ?? []).map(([stage, count, tail, startTs, startSeq, lastSeq, blocked]) => ({
            stage,
            count,
            tail: tail < 0 ? null : nodes[tail],
            startTs,
            startSeq,
            lastSeq,
            blocked: blocked === 1,
          })),
        ),
        windows: (options.aggregates ?? []).map((aggregate, i) => RollingWindow.restore(aggregate.windowNs, saved.windows[i] ?? [])),
        scheduled: Number.POSITIVE_INFINITY,
      };
      engine.keys.set(state.key, state);
      engine.schedule(state);
    }
    return engine;
  }
}

type SnapshotPartial = [stage: number, count: number, tail: number, startTs: number, startSeq: number, lastSeq: number, blocked: number];

export interface CepSnapshot<E> {
  format: 1;
  watermark: WatermarkSnapshot;
  buffered: CepRecord<E>[];
  records: CepRecord<E>[];
  /** [record index, seq, stage, previous node index or -1]: shared prefixes are written once. */
  nodes: [number, number, number, number][];
  keys: { key: string; seq: number; lastTs: number; runs: Record<string, SnapshotPartial[]>; windows: number[][][] }[];
}

function timerBefore(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.key < b.key);
}

function pushTimer(heap: Timer[], timer: Timer): void {
  let i = heap.length;
  heap.push(timer);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!timerBefore(timer, heap[parent])) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = timer;
}

function popTimer(heap: Timer[]): Timer {
  const top = heap[0];
  const last = heap.pop()!;
  if (heap.length > 0) {
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && timerBefore(heap[right], heap[left]) ? right : left;
      if (!timerBefore(heap[child], last)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
  }
  return top;
}
