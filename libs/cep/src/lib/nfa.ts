/**
 * A pattern compiled to a non-deterministic automaton run per key.
 *
 * States are (stage, count): `count` events accepted so far by a stage. On each event a partial match
 * can TAKE it (stay in a looping stage or enter the next one), IGNORE it (keep waiting, as the
 * contiguity allows) or PROCEED (an epsilon move to the next stage once the stage's minimum is met,
 * trying the same event there). Negative stages become guards on the next positive stage's entry;
 * a final `notFollowedBy` becomes a pending state that completes when the window closes.
 *
 * Shared buffer: a partial match does not own a list of events. It points at the newest node of a
 * persistent linked list (`BufferNode`: event, stage, previous node). Branching (followedByAny,
 * allowCombinations, a loop that both takes and proceeds) creates a new node whose `prev` is the
 * common prefix, so branches share the storage of every event they have in common and each
 * partial match is one immutable version of its path. Nodes no partial match reaches are garbage;
 * snapshots write each shared node once.
 */
import type { AggregateView } from './aggregates';
import type { Condition, Contiguity, MatchContext, PatternDefinitionOf, SkipStrategy } from './pattern';
import type { CepRecord, RecordId } from './watermark';

export interface BufferNode<E> {
  readonly record: CepRecord<E>;
  /** Per-key arrival sequence of the event (event-time order). */
  readonly seq: number;
  readonly stage: number;
  readonly prev: BufferNode<E> | null;
}

/**
 * One run of the automaton. Objects have one fixed shape (constructed only here) and belong to exactly
 * one key's run list; only `blocked` changes in place.
 */
export class PartialMatch<E> {
  constructor(
    /** Current stage, or `stages.length` for a match pending its final notFollowedBy. */
    readonly stage: number,
    readonly count: number,
    readonly tail: BufferNode<E> | null,
    readonly startTs: number,
    readonly startSeq: number,
    readonly lastSeq: number,
    /** Set when the next stage has been entered from here (relaxed) or barred by a guard; cleared by the next take. */
    public blocked: boolean,
  ) {}
}

export interface CompiledStage<E> {
  readonly name: string;
  readonly entry: Contiguity;
  readonly inner: Contiguity;
  readonly min: number;
  readonly max: number;
  readonly greedy: boolean;
  readonly test: Condition<E>;
  readonly until?: Condition<E>;
  /** A negative stage placed before this one: notNext (strict) or notFollowedBy. */
  readonly guard?: { readonly test: Condition<E>; readonly strict: boolean };
  /** True when every later stage is optional, so reaching this stage's minimum completes a match. */
  readonly canEnd: boolean;
}

export interface CompiledPattern<E> {
  readonly stages: readonly CompiledStage<E>[];
  readonly endGuard?: Condition<E>;
  readonly withinNs: number;
  readonly skip: SkipStrategy;
  readonly skipStage: number;
}

export function compilePattern<E>(def: PatternDefinitionOf<E>): CompiledPattern<E> {
  const stages: CompiledStage<E>[] = [];
  let pendingGuard: CompiledStage<E>['guard'];
  for (const stage of def.stages) {
    const test = combine(stage.conditions);
    if (stage.kind !== 'positive') {
      pendingGuard = { test, strict: stage.kind === 'notNext' };
      continue;
    }
    stages.push({
      name: stage.name,
      entry: stage.entry,
      inner: stage.inner,
      min: stage.min,
      max: stage.max,
      greedy: stage.greedy,
      test,
      until: stage.until,
      guard: pendingGuard,
      canEnd: false,
    });
    pendingGuard = undefined;
  }
  for (let i = stages.length - 1, rest = true; i >= 0; i--) {
    stages[i] = { ...stages[i], canEnd: rest };
    rest = rest && stages[i].min === 0;
  }
  const skip = def.skip;
  const skipStage = skip.kind === 'skipToFirst' || skip.kind === 'skipToLast' ? stages.findIndex((s) => s.name === skip.stage) : -1;
  return {
    stages,
    endGuard: pendingGuard?.test,
    withinNs: def.withinNs ?? Number.POSITIVE_INFINITY,
    skip,
    skipStage,
  };
}

function combine<E>(groups: readonly (readonly Condition<E>[])[]): Condition<E> {
  if (groups.length === 0) return () => true;
  if (groups.length === 1 && groups[0].length === 1) return groups[0][0];
  const alternatives = groups.map((group) => group.slice());
  return (event, ctx) => {
    for (let g = 0; g < alternatives.length; g++) {
      const group = alternatives[g];
      let all = true;
      for (let c = 0; c < group.length && all; c++) all = group[c](event, ctx);
      if (all) return true;
    }
    return false;
  };
}

/** A complete match as found by the automaton, before the engine names it. */
export interface RawMatch<E> {
  readonly tail: BufferNode<E>;
  readonly startTs: number;
  readonly startSeq: number;
  readonly lastSeq: number;
}

const WAIT = 1;
const TOOK_RELAXED = 2;
const BARRED = 4;

/** Everything `NfaStep` needs from its caller besides the pattern. */
export interface StepScope {
  readonly key: string;
  aggregate(name: string): AggregateView;
  state(name: string): ReadonlyMap<string, unknown>;
}

/**
 * Runs one pattern's automaton for one key at a time; one instance per pattern, reused across keys.
 * The hot path allocates only the buffer nodes and partial matches an event actually creates: run
 * lists are double-buffered (the list a step replaces becomes the next step's output list), and an
 * event that no partial match takes costs no allocation at all.
 */
export class NfaStep<E> implements MatchContext<E> {
  key = '';
  ts = 0;
  /** Lowest start time of the partial matches started by the last `step` (Infinity if none). */
  startedAt = Number.POSITIVE_INFINITY;
  private scope: StepScope = NO_SCOPE;
  private viewTail: BufferNode<E> | null = null;
  private next: PartialMatch<E>[] = [];
  private spare: PartialMatch<E>[] = [];
  private readonly completed: RawMatch<E>[] = [];
  private record: CepRecord<E> | null = null;
  private event!: E;
  private seq = 0;

  constructor(readonly pattern: CompiledPattern<E>) {}

  /**
   * Advances every partial match of a key by one event. Returns the surviving partial matches (either
   * `partials` itself or the other buffer; the caller stores the returned list and must not keep the
   * one it passed in) and appends completed matches to `matches`.
   */
  step(scope: StepScope, partials: PartialMatch<E>[], record: CepRecord<E>, seq: number, matches: RawMatch<E>[]): PartialMatch<E>[] {
    this.scope = scope;
    this.key = scope.key;
    this.ts = record.ts;
    this.record = record;
    this.event = record.event;
    this.seq = seq;
    this.startedAt = Number.POSITIVE_INFINITY;
    truncate(this.completed, 0);
    const n = partials.length;
    let next: PartialMatch<E>[];
    if (n === 0) {
      // Nothing to advance: only a new partial match may start, straight into the (empty) list.
      next = partials;
      this.next = next;
    } else {
      next = this.spare;
      truncate(next, 0); // empty unless a condition threw during the previous step
      this.next = next;
      const end = this.pattern.stages.length;
      const endGuard = this.pattern.endGuard;
      for (let i = 0; i < n; i++) {
        const pm = partials[i];
        if (pm.stage === end) {
          // Pending final notFollowedBy: an offending event cancels the match.
          this.viewTail = pm.tail;
          if (endGuard === undefined || !endGuard(record.event, this)) next.push(pm);
          continue;
        }
        const outcome = this.visit(pm, pm.stage, pm.count, false);
        if (outcome & WAIT) {
          if (outcome & (TOOK_RELAXED | BARRED)) pm.blocked = true;
          next.push(pm);
        }
      }
      truncate(partials, 0);
      this.spare = partials;
    }
    // A new partial match may start here. With a mandatory first stage that is exactly "take the event
    // if the first condition holds" (the common case, so it skips the general walk).
    const first = this.pattern.stages[0];
    this.viewTail = null;
    if (first.min > 0) {
      if (first.test(record.event, this)) this.take(START as PartialMatch<E>, 0, 0);
    } else {
      this.visit(START as PartialMatch<E>, 0, 0, true);
    }
    this.record = null;
    this.viewTail = null;
    if (this.completed.length > 0) this.settle(next, matches);
    return next;
  }

  /** Applies the skip strategy to matches completed by this event, in deterministic order. */
  private settle(alive: PartialMatch<E>[], out: RawMatch<E>[]): void {
    const found = this.completed;
    if (found.length > 1) found.sort(compareMatches);
    for (let f = 0; f < found.length; f++) {
      const match = found[f];
      out.push(match);
      const discard = discardPoint(this.pattern, match);
      if (Number.isNaN(discard)) continue; // this match discards nothing
      let kept = 0;
      for (let i = 0; i < alive.length; i++) if (!discards(this.pattern, discard, alive[i].startSeq)) alive[kept++] = alive[i];
      truncate(alive, kept);
      kept = f + 1;
      for (let i = f + 1; i < found.length; i++) if (!discards(this.pattern, discard, found[i].startSeq)) found[kept++] = found[i];
      truncate(found, kept);
    }
    truncate(found, 0);
  }

  private visit(pm: PartialMatch<E>, i: number, c: number, isStart: boolean): number {
    const stages = this.pattern.stages;
    if (i === stages.length) return 0; // completion is emitted eagerly on the take that reaches it
    const stage = stages[i];
    const event = this.event;
    const seq = this.seq;
    this.viewTail = pm.tail;
    const adjacent = pm.tail === null || seq === pm.lastSeq + 1;
    const guard = stage.guard;
    if (c === 0 && guard !== undefined && !isStart && (!guard.strict || adjacent) && guard.test(event, this)) return BARRED;
    const looping = c > 0;
    const until = stage.until;
    const loopOpen = !(looping && until !== undefined && until(event, this));
    const contiguity = looping ? stage.inner : stage.entry;
    const canTake = c < stage.max && loopOpen && (contiguity !== 'strict' || adjacent || (isStart && i === 0)) && stage.test(event, this);
    let outcome = 0;
    if (canTake) {
      this.take(pm, i, c);
      if (!looping && contiguity === 'relaxed') outcome |= TOOK_RELAXED;
    }
    let waits = false;
    if (!isStart && loopOpen && c < stage.max) {
      waits = contiguity === 'any' || (contiguity === 'relaxed' && !canTake);
    }
    if (c >= stage.min && !pm.blocked && !(stage.greedy && canTake) && !(isStart && stage.min > 0)) {
      const ahead = this.visit(pm, i + 1, 0, isStart);
      if (ahead & WAIT) {
        if (!waits) this.next.push(new PartialMatch(i + 1, 0, pm.tail, pm.startTs, pm.startSeq, pm.lastSeq, (ahead & (TOOK_RELAXED | BARRED)) !== 0));
      }
      if (waits) outcome |= ahead & (TOOK_RELAXED | BARRED);
    }
    if (waits) outcome |= WAIT;
    return outcome;
  }

  private take(pm: PartialMatch<E>, i: number, c: number): void {
    const stages = this.pattern.stages;
    const stage = stages[i];
    const record = this.record as CepRecord<E>;
    const seq = this.seq;
    const fresh = pm.tail === null;
    const tail: BufferNode<E> = { record, seq, stage: i, prev: pm.tail };
    const startTs = fresh ? record.ts : pm.startTs;
    const startSeq = fresh ? seq : pm.startSeq;
    if (startTs < this.startedAt) this.startedAt = startTs;
    if (c + 1 < stage.max || i + 1 < stages.length) this.next.push(new PartialMatch(i, c + 1, tail, startTs, startSeq, seq, false));
    if (c + 1 >= stage.min && stage.canEnd) {
      if (this.pattern.endGuard) this.next.push(new PartialMatch(stages.length, 0, tail, startTs, startSeq, seq, false));
      else this.completed.push({ tail, startTs, startSeq, lastSeq: seq });
    }
  }

  // MatchContext over the partial match under test.
  events(stage: string): E[] {
    const index = this.stageIndex(stage);
    const out: E[] = [];
    for (let node = this.viewTail; node !== null; node = node.prev) if (node.stage === index) out.push(node.record.event);
    return out.reverse();
  }

  first(stage: string): E | undefined {
    const index = this.stageIndex(stage);
    let found: E | undefined;
    for (let node = this.viewTail; node !== null; node = node.prev) if (node.stage === index) found = node.record.event;
    return found;
  }

  last(stage: string): E | undefined {
    const index = this.stageIndex(stage);
    for (let node = this.viewTail; node !== null; node = node.prev) if (node.stage === index) return node.record.event;
    return undefined;
  }

  count(stage: string): number {
    const index = this.stageIndex(stage);
    let n = 0;
    for (let node = this.viewTail; node !== null; node = node.prev) if (node.stage === index) n++;
    return n;
  }

  aggregate(name: string): AggregateView {
    return this.scope.aggregate(name);
  }

  state(name: string): ReadonlyMap<string, unknown> {
    return this.scope.state(name);
  }

  private stageIndex(name: string): number {
    const stages = this.pattern.stages;
    for (let i = 0; i < stages.length; i++) if (stages[i].name === name) return i;
    return -1;
  }
}

/** Shortens a (small) array in place; `pop` stays on V8's fast path where setting `length` does not. */
export function truncate(list: unknown[], length: number): void {
  while (list.length > length) list.pop();
}

const START = new PartialMatch<never>(0, 0, null, 0, 0, -2, false);

const NO_SCOPE: StepScope = {
  key: '',
  aggregate: () => {
    throw new Error('aggregates are read only while a condition runs');
  },
  state: () => {
    throw new Error('keyed state is read only while a condition runs');
  },
};

function compareMatches<E>(a: RawMatch<E>, b: RawMatch<E>): number {
  if (a.startSeq !== b.startSeq) return a.startSeq - b.startSeq;
  const pa = pathOf(a.tail);
  const pb = pathOf(b.tail);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return pa.length - pb.length;
}

function pathOf<E>(tail: BufferNode<E>): number[] {
  const out: number[] = [];
  for (let node: BufferNode<E> | null = tail; node !== null; node = node.prev) out.push(node.seq);
  return out.reverse();
}

const NO_DISCARD = Number.NaN;

/**
 * Where a match's skip strategy cuts: partial matches whose first event's sequence is at or before
 * (skipToNext: equal to) the returned point are discarded; NaN discards nothing.
 */
export function discardPoint<E>(pattern: CompiledPattern<E>, match: RawMatch<E>): number {
  switch (pattern.skip.kind) {
    case 'noSkip':
      return NO_DISCARD;
    case 'skipToNext':
      return match.startSeq;
    case 'skipPastLastEvent':
      return match.lastSeq;
    case 'skipToFirst':
    case 'skipToLast': {
      let point = NO_DISCARD;
      for (let node: BufferNode<E> | null = match.tail; node !== null; node = node.prev) {
        if (node.stage !== pattern.skipStage) continue;
        point = node.seq - 1;
        if (pattern.skip.kind === 'skipToLast') break;
      }
      // A match without events of the named stage skips nothing (Flink's default).
      return point;
    }
  }
}

function discards<E>(pattern: CompiledPattern<E>, point: number, startSeq: number): boolean {
  return pattern.skip.kind === 'skipToNext' ? startSeq === point : startSeq <= point;
}

/** The events of a match per stage, in order, with their record ids. */
export interface MatchedEvent<E> extends RecordId {
  readonly ts: number;
  readonly event: E;
}

export function eventsByStage<E>(pattern: CompiledPattern<E>, tail: BufferNode<E> | null): Record<string, MatchedEvent<E>[]> {
  // Stages along a path never decrease, so walking back from the tail meets them from last to first:
  // find the first stage of the path, then fill each stage's list from its newest event backwards.
  const out: Record<string, MatchedEvent<E>[]> = {};
  const stages = pattern.stages;
  let firstStage = stages.length;
  for (let node = tail; node !== null; node = node.prev) firstStage = node.stage;
  for (let s = firstStage; s < stages.length; s++) {
    let n = 0;
    for (let node = tail; node !== null && node.stage >= s; node = node.prev) if (node.stage === s) n++;
    if (n === 0) continue;
    const list: MatchedEvent<E>[] = new Array(n);
    for (let node = tail; node !== null && node.stage >= s; node = node.prev) {
      if (node.stage !== s) continue;
      const { record } = node;
      list[--n] = { topic: record.topic, partition: record.partition, offset: record.offset, ts: record.ts, event: record.event };
    }
    out[stages[s].name] = list;
  }
  return out;
}
