/**
 * The keyed CEP engine: pure, synchronous and deterministic, with time taken only from the events.
 * Records go through the watermark/reorder stage, then each released record advances its key's
 * automata. Outputs accumulate until `drain()`, so a caller can write them together with the input
 * offsets (one transaction) and take a `snapshot()` at the same point.
 */
import { RollingWindow, type AggregateView } from './aggregates';
import { compilePattern, eventsByStage, NfaStep, PartialMatch, truncate, type BufferNode, type CompiledPattern, type MatchedEvent, type RawMatch } from './nfa';
import { Pattern, type PatternDefinitionOf } from './pattern';
import { ReorderBuffer, WatermarkTracker, type CepRecord, type WatermarkSnapshot } from './watermark';

export interface PatternSpec<E> {
  readonly id: string;
  readonly version: number;
  readonly pattern: Pattern<E> | PatternDefinitionOf<E>;
  /**
   * Values to record with each match, read from the key's state and aggregates at the moment the
   * match completes (e.g. the limit in force, the baseline volume): they land in `CepMatch.captured`.
   */
  capture?(match: CepMatch<E>, scope: CaptureScope): Readonly<Record<string, CapturedValue>>;
}

export type CapturedValue = number | string | boolean | null;

/** What `PatternSpec.capture` reads: the key's aggregates and state tables when the match completes. */
export interface CaptureScope {
  readonly key: string;
  /** Event time at which the match completed. */
  readonly ts: number;
  aggregate(name: string): AggregateView;
  state(name: string): ReadonlyMap<string, unknown>;
}

/** What a keyed state update sees besides the event and its table. */
export interface StateUpdateScope extends CaptureScope {
  /**
   * Adds a sample to one of the key's windowed aggregates at the event's time (e.g. a return derived
   * from state); unlike the aggregates' own samples, the conditions of this very event see it.
   */
  sample(aggregate: string, x: number, y?: number, w?: number): void;
}

/**
 * Per-key side state besides the windowed aggregates: a named table of JSON values (e.g. the latest
 * risk limit per limit type, the last price of each leg of a pair). `update` runs for each event of
 * the key BEFORE the patterns see it, with the key's aggregates as they were before the event;
 * conditions read the table with `ctx.state(name)`. Tables are part of snapshots.
 */
export interface KeyedStateSpec<E> {
  readonly name: string;
  update(event: E, table: Map<string, unknown>, scope: StateUpdateScope): void;
  /**
   * Keep the table, and so the key, when the key goes idle (`idleKeyTtlNs`), e.g. limits that are
   * rarely changed; other tables are cleared with the aggregate windows.
   */
  readonly retain?: boolean;
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
  /**
   * A key with no event for this long (event time) drops its aggregate windows and, once it holds no
   * partial match, goes entirely. Partial matches are never dropped by it: those of patterns with
   * `within` time out as usual; those of patterns without `within` wait for their events (give every
   * pattern a `within` to bound state).
   */
  readonly idleKeyTtlNs?: number;
  /**
   * Most partial matches one key may hold for one pattern. An event that would leave more drops the
   * oldest (earliest start) until the bound holds; they are counted in `CepOutput.droppedPartialMatches`
   * and never reported as matches or timeouts. Unbounded when absent.
   */
  readonly maxPartialMatchesPerKey?: number;
  readonly aggregates?: readonly AggregateSpec<E>[];
  readonly state?: readonly KeyedStateSpec<E>[];
  /**
   * Records for which this returns false only move event time (their partition's watermark); they
   * reach no key, no state and no pattern (e.g. symbols a pair rule does not watch).
   */
  filter?(event: E): boolean;
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
  /** What the pattern's `capture` recorded when the match completed (absent without one). */
  readonly captured?: Readonly<Record<string, CapturedValue>>;
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
  /** Partial matches dropped because a key reached `maxPartialMatchesPerKey`. */
  droppedPartialMatches: number;
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
  /** One table per `CepEngineOptions.state` entry, in that order. */
  readonly tables: Map<string, unknown>[];
  /**
   * Deadline the key is scheduled at in the timer queue: never later than its earliest partial-match
   * deadline or idle deadline (it may be earlier, when that partial match has since completed; the
   * timer then finds nothing to do and schedules the exact next deadline).
   */
  scheduled: number;
}

interface Timer {
  readonly at: number;
  readonly key: string;
}

export class CepEngine<E> {
  private readonly compiled: { spec: PatternSpec<E>; nfa: CompiledPattern<E>; step: NfaStep<E> }[];
  /** The automata in pattern order (the per-event loop reads only these). */
  private readonly steps: NfaStep<E>[];
  private readonly tracker: WatermarkTracker;
  private readonly buffer = new ReorderBuffer<E>();
  private readonly keys = new Map<string, KeyState<E>>();
  private readonly timers: Timer[] = [];
  private output: CepOutput<E> = { matches: [], timeouts: [], late: [], droppedPartialMatches: 0 };
  private readonly rawMatches: RawMatch<E>[] = [];
  private readonly scope: KeyScope;

  constructor(private readonly options: CepEngineOptions<E>) {
    const ids = new Set<string>();
    this.compiled = options.patterns.map((spec) => {
      if (ids.has(spec.id)) throw new Error(`pattern id '${spec.id}' is used twice`);
      ids.add(spec.id);
      const def = spec.pattern instanceof Pattern ? spec.pattern.definition() : spec.pattern;
      const nfa = compilePattern(def);
      return { spec, nfa, step: new NfaStep(nfa) };
    });
    this.steps = this.compiled.map(({ step }) => step);
    this.scope = new KeyScope(
      (options.aggregates ?? []).map((aggregate) => aggregate.name),
      (options.state ?? []).map((table) => table.name),
    );
    this.tracker = new WatermarkTracker(options.outOfOrdernessNs);
  }

  get watermark(): number {
    return this.tracker.watermark;
  }

  /** Accepts one record from an input partition and processes whatever the watermark releases. */
  ingest(record: CepRecord<E>): void {
    const watermark = this.tracker.watermark;
    const filter = this.options.filter;
    if (filter !== undefined && !filter(record.event)) {
      // Not for this engine: it only moves event time.
      const next = this.tracker.observeRecord(record.topic, record.partition, record.ts);
      if (next > watermark) this.release(next);
      return;
    }
    if (record.ts < watermark) {
      this.handleLate(record, watermark);
      return;
    }
    this.buffer.push(record);
    const next = this.tracker.observeRecord(record.topic, record.partition, record.ts);
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
    this.output = { matches: [], timeouts: [], late: [], droppedPartialMatches: 0 };
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
      if (this.timers.length > 0 && this.timers[0].at <= head.ts) this.fireTimers(head.ts);
      this.buffer.pop();
      this.apply(head);
    }
    this.fireTimers(watermark);
  }

  private apply(record: CepRecord<E>): void {
    const key = this.options.keyBy(record.event);
    const ts = record.ts;
    let state = this.keys.get(key);
    if (!state) {
      state = {
        key,
        seq: 0,
        lastTs: ts,
        runs: this.compiled.map(() => []),
        windows: (this.options.aggregates ?? []).map((aggregate) => new RollingWindow(aggregate.windowNs)),
        tables: (this.options.state ?? []).map(() => new Map<string, unknown>()),
        scheduled: Number.POSITIVE_INFINITY,
      };
      this.keys.set(key, state);
    }
    // Timers fire before the records they precede, so this only runs for records applied late.
    if (state.scheduled <= ts) this.expire(state, ts);
    const seq = ++state.seq;
    if (ts > state.lastTs) state.lastTs = ts;
    const windows = state.windows;
    const scope = this.scope;
    scope.key = key;
    scope.ts = ts;
    scope.windows = windows;
    scope.tables = state.tables;
    for (let i = 0; i < windows.length; i++) windows[i].evict(ts);
    const tables = this.options.state;
    if (tables !== undefined) for (let i = 0; i < tables.length; i++) tables[i].update(record.event, state.tables[i], scope);
    let deadline = Number.POSITIVE_INFINITY;
    const matches = this.rawMatches;
    const steps = this.steps;
    const runs = state.runs;
    const maxPartials = this.options.maxPartialMatchesPerKey ?? Number.POSITIVE_INFINITY;
    for (let p = 0; p < steps.length; p++) {
      const step = steps[p];
      runs[p] = step.step(this.scope, runs[p], record, seq, matches);
      if (runs[p].length > maxPartials) this.dropOldest(runs[p], maxPartials);
      if (step.startedAt + step.pattern.withinNs < deadline) deadline = step.startedAt + step.pattern.withinNs;
      if (matches.length > 0) {
        for (let m = 0; m < matches.length; m++) this.emitMatch(p, key, matches[m]);
        truncate(matches, 0);
      }
    }
    scope.windows = NO_WINDOWS;
    scope.tables = NO_TABLES;
    // Aggregates are updated after the conditions ran, so a condition compares the event with its past.
    const aggregates = this.options.aggregates;
    if (aggregates) {
      for (let i = 0; i < aggregates.length; i++) {
        const spec = aggregates[i];
        const value = spec.value(record.event);
        if (value !== undefined) windows[i].add(ts, value, spec.paired === undefined ? 0 : spec.paired(record.event), spec.weight === undefined ? 0 : spec.weight(record.event));
      }
    }
    const ttl = this.options.idleKeyTtlNs;
    if (ttl !== undefined && state.lastTs + ttl < deadline) deadline = state.lastTs + ttl;
    // Incremental: only partial matches started by this event can bring the key's deadline forward.
    if (deadline < state.scheduled) this.scheduleAt(state, deadline);
  }

  /**
   * Keeps the `max` newest partial matches of a run (by start time, then first event), dropping the
   * rest in place. Deterministic, so a replay drops the same ones.
   */
  private dropOldest(run: PartialMatch<E>[], max: number): void {
    const excess = run.length - max;
    const oldestFirst = run.map((_, i) => i).sort((a, b) => run[a].startTs - run[b].startTs || run[a].startSeq - run[b].startSeq || a - b);
    const dropped = new Set(oldestFirst.slice(0, excess));
    let kept = 0;
    for (let i = 0; i < run.length; i++) if (!dropped.has(i)) run[kept++] = run[i];
    truncate(run, kept);
    this.output.droppedPartialMatches += excess;
  }

  /** Times out partial matches whose window has closed at `now`. */
  private expire(state: KeyState<E>, now: number): void {
    const scope = this.scope;
    scope.key = state.key;
    scope.ts = now;
    scope.windows = state.windows;
    scope.tables = state.tables;
    for (let p = 0; p < this.compiled.length; p++) {
      const { nfa } = this.compiled[p];
      const run = state.runs[p];
      const within = nfa.withinNs;
      if (run.length === 0 || within === Number.POSITIVE_INFINITY) continue;
      let kept = 0;
      for (let i = 0; i < run.length; i++) {
        const pm = run[i];
        if (now - pm.startTs < within) {
          run[kept++] = pm;
          continue;
        }
        if (pm.stage === nfa.stages.length && pm.tail !== null) {
          // The final notFollowedBy held for the whole window: the match completes now.
          this.emitMatch(p, state.key, { tail: pm.tail, startTs: pm.startTs, startSeq: pm.startSeq, lastSeq: pm.lastSeq });
        } else {
          this.emitTimeout(p, state.key, pm);
        }
      }
      truncate(run, kept);
    }
    scope.windows = NO_WINDOWS;
    scope.tables = NO_TABLES;
  }

  private emitMatch(p: number, key: string, match: RawMatch<E>): void {
    const { spec, nfa } = this.compiled[p];
    const lastEventTs = match.tail.record.ts;
    const windowEnd = nfa.withinNs === Number.POSITIVE_INFINITY ? lastEventTs : match.startTs + nfa.withinNs;
    const events = eventsByStage(nfa, match.tail);
    const found: CepMatch<E> = { patternId: spec.id, version: spec.version, key, events, windowStart: match.startTs, windowEnd, lastEventTs };
    this.output.matches.push(spec.capture === undefined ? found : { ...found, captured: spec.capture(found, this.scope) });
  }

  private emitTimeout(p: number, key: string, pm: PartialMatch<E>): void {
    const { spec, nfa } = this.compiled[p];
    const lastEventTs = pm.tail ? pm.tail.record.ts : pm.startTs;
    const windowEnd = pm.startTs + nfa.withinNs;
    const events = eventsByStage(nfa, pm.tail);
    this.output.timeouts.push({ patternId: spec.id, version: spec.version, key, events, windowStart: pm.startTs, windowEnd, lastEventTs, timeoutTs: windowEnd });
  }

  // ---- timers: window expiry and idle-key cleanup, driven by the watermark ----

  /** The key's next deadline after `now`: its earliest partial-match window end, or its idle deadline. */
  private nextDeadline(state: KeyState<E>, now: number): number {
    let deadline = Number.POSITIVE_INFINITY;
    for (let p = 0; p < this.compiled.length; p++) {
      const within = this.compiled[p].nfa.withinNs;
      const run = state.runs[p];
      if (within === Number.POSITIVE_INFINITY) continue;
      for (let i = 0; i < run.length; i++) if (run[i].startTs + within < deadline) deadline = run[i].startTs + within;
    }
    const ttl = this.options.idleKeyTtlNs;
    if (ttl !== undefined && state.lastTs + ttl > now && state.lastTs + ttl < deadline) deadline = state.lastTs + ttl;
    return deadline;
  }

  private scheduleAt(state: KeyState<E>, deadline: number): void {
    state.scheduled = deadline;
    if (deadline !== Number.POSITIVE_INFINITY) pushTimer(this.timers, { at: deadline, key: state.key });
  }

  private fireTimers(now: number): void {
    const timers = this.timers;
    while (timers.length > 0 && timers[0].at <= now) {
      const timer = popTimer(timers);
      const state = this.keys.get(timer.key);
      if (!state || state.scheduled !== timer.at) continue; // superseded
      this.expire(state, timer.at);
      const ttl = this.options.idleKeyTtlNs;
      if (ttl !== undefined && timer.at >= state.lastTs + ttl) {
        const specs = this.options.state ?? [];
        if (state.runs.every((run) => run.length === 0) && state.tables.every((table, i) => !specs[i].retain || table.size === 0)) {
          this.keys.delete(state.key);
          continue;
        }
        // Idle, but holding partial matches or retained state: keep them (and the key), drop the rest.
        for (const window of state.windows) window.evict(timer.at + window.windowNs);
        state.tables.forEach((table, i) => {
          if (!specs[i].retain) table.clear();
        });
      }
      this.scheduleAt(state, this.nextDeadline(state, timer.at));
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
        ...(state.tables.length === 0 ? {} : { state: Object.fromEntries(state.tables.map((table, i) => [(this.options.state ?? [])[i].name, [...table]])) }),
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
          (saved.runs[spec.id] ?? []).map(
            ([stage, count, tail, startTs, startSeq, lastSeq, blocked]) => new PartialMatch<E>(stage, count, tail < 0 ? null : nodes[tail], startTs, startSeq, lastSeq, blocked === 1),
          ),
        ),
        windows: (options.aggregates ?? []).map((aggregate, i) => RollingWindow.restore(aggregate.windowNs, saved.windows[i] ?? [])),
        tables: (options.state ?? []).map((table) => new Map<string, unknown>(saved.state?.[table.name] ?? [])),
        scheduled: Number.POSITIVE_INFINITY,
      };
      engine.keys.set(state.key, state);
      engine.scheduleAt(state, engine.nextDeadline(state, engine.tracker.watermark));
    }
    return engine;
  }
}

const NO_WINDOWS: RollingWindow[] = [];
const NO_TABLES: Map<string, unknown>[] = [];

/** What conditions, state updates and captures see of the key being processed: its name, windows and tables. */
class KeyScope implements StateUpdateScope {
  key = '';
  ts = 0;
  windows: RollingWindow[] = NO_WINDOWS;
  tables: Map<string, unknown>[] = NO_TABLES;

  constructor(
    private readonly names: readonly string[],
    private readonly tableNames: readonly string[],
  ) {}

  aggregate(name: string): AggregateView {
    return this.window(name);
  }

  state(name: string): ReadonlyMap<string, unknown> {
    const names = this.tableNames;
    for (let i = 0; i < names.length; i++) if (names[i] === name && i < this.tables.length) return this.tables[i];
    throw new Error(this.tables === NO_TABLES ? 'keyed state is read only while a condition runs' : `no state table named '${name}'`);
  }

  sample(aggregate: string, x: number, y = 0, w = 0): void {
    this.window(aggregate).add(this.ts, x, y, w);
  }

  private window(name: string): RollingWindow {
    const names = this.names;
    for (let i = 0; i < names.length; i++) if (names[i] === name && i < this.windows.length) return this.windows[i];
    throw new Error(this.windows === NO_WINDOWS ? 'aggregates are read only while a condition runs' : `no aggregate named '${name}'`);
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
  keys: {
    key: string;
    seq: number;
    lastTs: number;
    runs: Record<string, SnapshotPartial[]>;
    windows: number[][][];
    /** Entries of each keyed state table by table name (absent without state tables). */
    state?: Record<string, [string, unknown][]>;
  }[];
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
  const last = heap.pop();
  if (heap.length > 0 && last !== undefined) {
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
