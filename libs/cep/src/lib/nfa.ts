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

export interface PartialMatch<E> {
  /** Current stage, or `stages.length` for a match pending its final notFollowedBy. */
  readonly stage: number;
  readonly count: number;
  readonly tail: BufferNode<E> | null;
  readonly startTs: number;
  readonly startSeq: number;
  readonly lastSeq: number;
  /** Set when the next stage has been entered from here (relaxed) or barred by a guard; cleared by the next take. */
  readonly blocked: boolean;
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
  return (event, ctx) => groups.some((group) => group.every((condition) => condition(event, ctx)));
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
}

/**
 * Runs one pattern's automaton for one key at a time; one instance per pattern, reused across keys
 * so the hot path allocates only the nodes and partial matches it creates.
 */
export class NfaStep<E> implements MatchContext<E> {
  key = '';
  ts = 0;
  private scope!: StepScope;
  private viewTail: BufferNode<E> | null = null;
  private next: PartialMatch<E>[] = [];
  private completed: RawMatch<E>[] = [];
  private record!: CepRecord<E>;
  private seq = 0;

  constructor(readonly pattern: CompiledPattern<E>) {}

  /** Advances every partial match of a key by one event; returns the surviving partial matches and completed matches. */
  step(scope: StepScope, partials: readonly PartialMatch<E>[], record: CepRecord<E>, seq: number, matches: RawMatch<E>[]): PartialMatch<E>[] {
    this.scope = scope;
    this.key = scope.key;
    this.ts = record.ts;
    this.record = record;
    this.seq = seq;
    const next: PartialMatch<E>[] = [];
    this.next = next;
    this.completed = [];
    const end = this.pattern.stages.length;
    for (let i = 0; i < partials.length; i++) {
      const pm = partials[i];
      if (pm.stage === end) {
        // Pending final notFollowedBy: an offending event cancels the match.
        this.viewTail = pm.tail;
        if (!this.pattern.endGuard!(record.event, this)) next.push(pm);
        continue;
      }
      const outcome = this.visit(pm, pm.stage, pm.count, false);
      if (outcome & WAIT) next.push(outcome & (TOOK_RELAXED | BARRED) && !pm.blocked ? { ...pm, blocked: true } : pm);
    }
    this.visit(START, 0, 0, true);
    if (this.completed.length > 0) return this.settle(next, matches);
    return next;
  }

  /** Applies the skip strategy to matches completed by this event, in deterministic order. */
  private settle(next: PartialMatch<E>[], out: RawMatch<E>[]): PartialMatch<E>[] {
    const found = this.completed.sort(compareMatches);
    let alive = next;
    while (found.length > 0) {
      const match = found.shift()!;
      out.push(match);
      const discard = discardRule(this.pattern, match);
      if (discard === undefined) continue;
      alive = alive.filter((pm) => !discard(pm.startSeq));
      for (let i = found.length - 1; i >= 0; i--) if (discard(found[i].startSeq)) found.splice(i, 1);
    }
    return alive;
  }

  private visit(pm: PartialMatch<E>, i: number, c: number, isStart: boolean): number {
    const stages = this.pattern.stages;
    if (i === stages.length) return 0; // completion is emitted eagerly on the take that reaches it
    const stage = stages[i];
    const event = this.record.event;
    const seq = this.seq;
    this.viewTail = pm.tail;
    const adjacent = pm.tail === null || seq === pm.lastSeq + 1;
    if (c === 0 && stage.guard && !isStart && (!stage.guard.strict || adjacent) && stage.guard.test(event, this)) return BARRED;
    const looping = c > 0;
    const loopOpen = !(looping && stage.until && stage.until(event, this));
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
        if (!waits) this.next.push({ ...pm, stage: i + 1, count: 0, blocked: (ahead & (TOOK_RELAXED | BARRED)) !== 0 });
      }
      if (waits) outcome |= ahead & (TOOK_RELAXED | BARRED);
    }
    if (waits) outcome |= WAIT;
    return outcome;
  }

  private take(pm: PartialMatch<E>, i: number, c: number): void {
    const stages = this.pattern.stages;
    const stage = stages[i];
    const fresh = pm.tail === null;
    const tail: BufferNode<E> = { record: this.record, seq: this.seq, stage: i, prev: pm.tail };
    const taken: PartialMatch<E> = {
      stage: i,
      count: c + 1,
      tail,
      startTs: fresh ? this.record.ts : pm.startTs,
      startSeq: fresh ? this.seq : pm.startSeq,
      lastSeq: this.seq,
      blocked: false,
    };
    if (c + 1 < stage.max || i + 1 < stages.length) this.next.push(taken);
    if (c + 1 >= stage.min && stage.canEnd) {
      if (this.pattern.endGuard) this.next.push({ ...taken, stage: stages.length, count: 0 });
      else this.completed.push({ tail, startTs: taken.startTs, startSeq: taken.startSeq, lastSeq: this.seq });
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

  private stageIndex(name: string): number {
    const stages = this.pattern.stages;
    for (let i = 0; i < stages.length; i++) if (stages[i].name === name) return i;
    return -1;
  }
}

const START: PartialMatch<never> = { stage: 0, count: 0, tail: null, startTs: 0, startSeq: 0, lastSeq: -2, blocked: false };

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

/** Which partial matches (by the sequence of their first event) a match's skip strategy discards. */
export function discardRule<E>(pattern: CompiledPattern<E>, match: RawMatch<E>): ((startSeq: number) => boolean) | undefined {
  switch (pattern.skip.kind) {
    case 'noSkip':
      return undefined;
    case 'skipToNext':
      return (startSeq) => startSeq === match.startSeq;
    case 'skipPastLastEvent':
      return (startSeq) => startSeq <= match.lastSeq;
    case 'skipToFirst':
    case 'skipToLast': {
      let point: number | undefined;
      for (let node: BufferNode<E> | null = match.tail; node !== null; node = node.prev) {
        if (node.stage !== pattern.skipStage) continue;
        point = node.seq;
        if (pattern.skip.kind === 'skipToLast') break;
      }
      // A match without events of the named stage skips nothing (Flink's default).
      return point === undefined ? undefined : (startSeq) => startSeq < point;
    }
  }
}

/** The events of a match per stage, in order, with their record ids. */
export interface MatchedEvent<E> extends RecordId {
  readonly ts: number;
  readonly event: E;
}

export function eventsByStage<E>(pattern: CompiledPattern<E>, tail: BufferNode<E> | null): Record<string, MatchedEvent<E>[]> {
  const out: Record<string, MatchedEvent<E>[]> = {};
  const nodes: BufferNode<E>[] = [];
  for (let node = tail; node !== null; node = node.prev) nodes.push(node);
  for (const stage of pattern.stages) out[stage.name] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const { record } = nodes[i];
    out[pattern.stages[nodes[i].stage].name].push({ topic: record.topic, partition: record.partition, offset: record.offset, ts: record.ts, event: record.event });
  }
  for (const stage of pattern.stages) if (out[stage.name].length === 0) delete out[stage.name];
  return out;
}
