/**
 * The fluent Pattern API, modelled on Flink CEP: a pattern is a sequence of named stages joined by a
 * contiguity, each with conditions and a quantifier. Builders are immutable: every call returns a new
 * pattern, so a shared prefix can be extended in several ways safely.
 */
import type { AggregateView } from './aggregates';

/** How an event may be skipped between two accepted events. */
export type Contiguity = 'strict' | 'relaxed' | 'any';

/** What a condition sees besides the event: the partial match so far and the key's aggregates. */
export interface MatchContext<E> {
  readonly key: string;
  /** Event time of the event under test. */
  readonly ts: number;
  /** Events already accepted by the stage, oldest first (allocates: prefer first/last/count in hot conditions). */
  events(stage: string): E[];
  first(stage: string): E | undefined;
  last(stage: string): E | undefined;
  count(stage: string): number;
  /** A windowed aggregate declared on the engine, over the events before this one. */
  aggregate(name: string): AggregateView;
  /**
   * A keyed state table declared on the engine (`CepEngineOptions.state`), as its update left it
   * after this event (state updates run before the patterns see the event).
   */
  state(name: string): ReadonlyMap<string, unknown>;
}

export type Condition<E> = (event: E, ctx: MatchContext<E>) => boolean;

export type SkipStrategy =
  | { readonly kind: 'noSkip' }
  | { readonly kind: 'skipToNext' }
  | { readonly kind: 'skipPastLastEvent' }
  | { readonly kind: 'skipToFirst'; readonly stage: string }
  | { readonly kind: 'skipToLast'; readonly stage: string };

export const AfterMatchSkip = {
  noSkip: (): SkipStrategy => ({ kind: 'noSkip' }),
  skipToNext: (): SkipStrategy => ({ kind: 'skipToNext' }),
  skipPastLastEvent: (): SkipStrategy => ({ kind: 'skipPastLastEvent' }),
  skipToFirst: (stage: string): SkipStrategy => ({ kind: 'skipToFirst', stage }),
  skipToLast: (stage: string): SkipStrategy => ({ kind: 'skipToLast', stage }),
} as const;

export type StageKind = 'positive' | 'notNext' | 'notFollowedBy';

/** One stage of a pattern, as the compiler reads it. */
export interface StageDefinition<E> {
  readonly name: string;
  readonly kind: StageKind;
  /** Contiguity between the previous stage's last event and this stage's first (ignored for the first stage). */
  readonly entry: Contiguity;
  /** Contiguity between events accepted by a looping stage (Flink's default for loops: relaxed). */
  readonly inner: Contiguity;
  /** Disjunction of conjunctions: `where` ANDs into the last group, `or` opens a new group. */
  readonly conditions: readonly (readonly Condition<E>[])[];
  readonly until?: Condition<E>;
  readonly min: number;
  readonly max: number;
  readonly greedy: boolean;
  readonly looping: boolean;
}

export interface PatternDefinitionOf<E> {
  readonly stages: readonly StageDefinition<E>[];
  readonly withinNs?: number;
  readonly skip: SkipStrategy;
}

const ALWAYS: readonly (readonly Condition<never>[])[] = [];

export class Pattern<E> {
  private constructor(private readonly def: PatternDefinitionOf<E>) {}

  static begin<E>(name: string, skip: SkipStrategy = AfterMatchSkip.noSkip()): Pattern<E> {
    return new Pattern<E>({ stages: [], skip }).append(name, 'positive', 'strict');
  }

  /** Strict contiguity: the very next event of the key must match. */
  next(name: string): Pattern<E> {
    return this.append(name, 'positive', 'strict');
  }

  /** Relaxed contiguity: non-matching events are skipped; the first matching one is taken. */
  followedBy(name: string): Pattern<E> {
    return this.append(name, 'positive', 'relaxed');
  }

  /** Non-deterministic relaxed contiguity: every later matching event starts another branch. */
  followedByAny(name: string): Pattern<E> {
    return this.append(name, 'positive', 'any');
  }

  /** The event right after the previous stage must not match. */
  notNext(name: string): Pattern<E> {
    return this.append(name, 'notNext', 'strict');
  }

  /** No matching event may occur between the previous stage and the next one (or before `within` ends, at the end). */
  notFollowedBy(name: string): Pattern<E> {
    return this.append(name, 'notFollowedBy', 'relaxed');
  }

  where(condition: Condition<E>): Pattern<E> {
    const last = this.last();
    const groups = last.conditions.length === 0 ? [[condition]] : [...last.conditions.slice(0, -1), [...last.conditions[last.conditions.length - 1], condition]];
    return this.patchLast({ conditions: groups });
  }

  or(condition: Condition<E>): Pattern<E> {
    const last = this.last();
    if (last.conditions.length === 0) return this.where(condition);
    return this.patchLast({ conditions: [...last.conditions, [condition]] });
  }

  /** Stops a looping stage: once an event satisfies it, the loop accepts no more events. */
  until(condition: Condition<E>): Pattern<E> {
    const last = this.last();
    if (!last.looping) throw new PatternError(`until() on '${last.name}' needs oneOrMore() or timesOrMore()`);
    return this.patchLast({ until: condition });
  }

  times(n: number, m?: number): Pattern<E> {
    const max = m ?? n;
    if (!Number.isInteger(n) || !Number.isInteger(max) || n < 1 || max < n) {
      throw new PatternError(`times(${n}${m === undefined ? '' : `, ${m}`}) on '${this.last().name}': need 1 <= n <= m`);
    }
    return this.quantify({ min: n, max, looping: max > 1 });
  }

  timesOrMore(n: number): Pattern<E> {
    if (!Number.isInteger(n) || n < 1) throw new PatternError(`timesOrMore(${n}) on '${this.last().name}': need n >= 1`);
    return this.quantify({ min: n, max: Number.POSITIVE_INFINITY, looping: true });
  }

  oneOrMore(): Pattern<E> {
    return this.timesOrMore(1);
  }

  optional(): Pattern<E> {
    this.positiveLast('optional');
    return this.patchLast({ min: 0 });
  }

  /** Take as many events into the loop as possible instead of also branching to the next stage. */
  greedy(): Pattern<E> {
    const last = this.positiveLast('greedy');
    if (!last.looping) throw new PatternError(`greedy() on '${last.name}' needs a quantifier`);
    return this.patchLast({ greedy: true });
  }

  /** Strict contiguity between the events of a looping stage. */
  consecutive(): Pattern<E> {
    return this.innerContiguity('strict', 'consecutive');
  }

  /** Non-deterministic relaxed contiguity between the events of a looping stage. */
  allowCombinations(): Pattern<E> {
    return this.innerContiguity('any', 'allowCombinations');
  }

  /** The whole match must fit in this event-time span (nanoseconds); the smallest one given wins. */
  within(durationNs: number): Pattern<E> {
    if (!(durationNs > 0)) throw new PatternError(`within(${durationNs}): need a positive duration`);
    const withinNs = this.def.withinNs === undefined ? durationNs : Math.min(this.def.withinNs, durationNs);
    return new Pattern({ ...this.def, withinNs });
  }

  skipStrategy(skip: SkipStrategy): Pattern<E> {
    return new Pattern({ ...this.def, skip });
  }

  /** The validated definition the compiler consumes. */
  definition(): PatternDefinitionOf<E> {
    validate(this.def);
    return this.def;
  }

  private append(name: string, kind: StageKind, entry: Contiguity): Pattern<E> {
    if (this.def.stages.some((stage) => stage.name === name)) throw new PatternError(`stage name '${name}' is used twice`);
    if (!name) throw new PatternError('a stage needs a name');
    const previous = this.def.stages[this.def.stages.length - 1];
    if (kind !== 'positive' && previous && previous.min === 0) {
      throw new PatternError(`'${name}': a negative stage cannot follow the optional stage '${previous.name}'`);
    }
    const stage: StageDefinition<E> = {
      name,
      kind,
      entry,
      inner: 'relaxed',
      conditions: ALWAYS as StageDefinition<E>['conditions'],
      min: 1,
      max: 1,
      greedy: false,
      looping: false,
    };
    return new Pattern({ ...this.def, stages: [...this.def.stages, stage] });
  }

  private last(): StageDefinition<E> {
    return this.def.stages[this.def.stages.length - 1];
  }

  private positiveLast(what: string): StageDefinition<E> {
    const last = this.last();
    if (last.kind !== 'positive') throw new PatternError(`${what}() cannot apply to the negative stage '${last.name}'`);
    return last;
  }

  private quantify(patch: Pick<StageDefinition<E>, 'min' | 'max' | 'looping'>): Pattern<E> {
    const last = this.positiveLast('a quantifier');
    if (last.looping || last.max !== 1) throw new PatternError(`'${last.name}' already has a quantifier`);
    return this.patchLast({ ...patch, min: last.min === 0 ? 0 : patch.min });
  }

  private innerContiguity(inner: Contiguity, what: string): Pattern<E> {
    const last = this.positiveLast(what);
    if (!last.looping) throw new PatternError(`${what}() on '${last.name}' needs a looping quantifier`);
    return this.patchLast({ inner });
  }

  private patchLast(patch: Partial<StageDefinition<E>>): Pattern<E> {
    const stages = this.def.stages.slice();
    stages[stages.length - 1] = { ...stages[stages.length - 1], ...patch };
    return new Pattern({ ...this.def, stages });
  }
}

export class PatternError extends Error {
  override readonly name = 'PatternError';
}

function validate<E>(def: PatternDefinitionOf<E>): void {
  const stages = def.stages;
  if (stages[0].kind !== 'positive') throw new PatternError('a pattern must begin with a positive stage');
  const lastStage = stages[stages.length - 1];
  if (lastStage.kind === 'notNext') throw new PatternError(`a pattern cannot end with notNext ('${lastStage.name}')`);
  if (lastStage.kind === 'notFollowedBy' && def.withinNs === undefined) {
    throw new PatternError(`a pattern ending with notFollowedBy ('${lastStage.name}') needs within()`);
  }
  for (let i = 1; i < stages.length; i++) {
    if (stages[i].kind !== 'positive' && stages[i - 1].kind !== 'positive') {
      throw new PatternError(`'${stages[i].name}': two negative stages in a row are not supported`);
    }
  }
  const skip = def.skip;
  if (skip.kind === 'skipToFirst' || skip.kind === 'skipToLast') {
    const target = stages.find((stage) => stage.name === skip.stage);
    if (!target || target.kind !== 'positive') throw new PatternError(`${skip.kind}('${skip.stage}') names no positive stage`);
  }
}
