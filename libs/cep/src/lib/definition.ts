/**
 * Patterns as data (JSON or YAML), for rules changed at runtime. Conditions are a small declarative
 * language: comparisons of event fields with constants, with fields of events already matched, or
 * with windowed aggregates, combined with all/any/not, plus predicates registered by name in code.
 * Nothing is evaluated as code, so a rule from a topic or an HTTP call cannot run anything.
 */
import { parse as parseYaml } from 'yaml';
import { AfterMatchSkip, Pattern, PatternError, type Condition, type MatchContext, type SkipStrategy } from './pattern';

export type ComparisonOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** The right-hand side of a comparison. */
export type Operand =
  | { readonly value: number | string | boolean }
  | { readonly field: string }
  /** A field of the first or last event of an earlier stage, optionally scaled: `factor * stage.field`. */
  | { readonly stage: string; readonly pick?: 'first' | 'last'; readonly field: string; readonly factor?: number }
  /** A statistic of a windowed aggregate declared on the engine. */
  | { readonly aggregate: string; readonly stat: 'mean' | 'stddev' | 'vwap' | 'count' | 'correlation'; readonly factor?: number };

export type ConditionSpec =
  | { readonly all: readonly ConditionSpec[] }
  | { readonly any: readonly ConditionSpec[] }
  | { readonly not: ConditionSpec }
  /** Compares an event field (or the event's z-score in an aggregate) with an operand. */
  | ({ readonly field: string; readonly op: ComparisonOp; readonly zscoreIn?: string } & { readonly to: Operand })
  | { readonly predicate: string; readonly params?: Readonly<Record<string, unknown>> };

export interface StageSpec {
  readonly name: string;
  /** How the stage joins the previous one; ignored for the first stage. */
  readonly contiguity?: 'next' | 'followedBy' | 'followedByAny' | 'notNext' | 'notFollowedBy';
  readonly where?: ConditionSpec;
  readonly or?: ConditionSpec;
  readonly until?: ConditionSpec;
  readonly times?: number | readonly [number, number];
  readonly timesOrMore?: number;
  readonly oneOrMore?: boolean;
  readonly optional?: boolean;
  readonly greedy?: boolean;
  readonly consecutive?: boolean;
  readonly allowCombinations?: boolean;
}

export interface PatternDocument {
  readonly stages: readonly StageSpec[];
  /** Nanoseconds. */
  readonly within?: number;
  readonly skip?: SkipStrategy;
}

/** Named predicates code can offer to data-defined patterns: `params` come from the document. */
export type PredicateRegistry<E> = Readonly<Record<string, (params: Readonly<Record<string, unknown>>) => Condition<E>>>;

const JOINS: readonly string[] = ['next', 'followedBy', 'followedByAny', 'notNext', 'notFollowedBy'];

export function patternFromDocument<E>(doc: PatternDocument, predicates: PredicateRegistry<E> = {}): Pattern<E> {
  if (!doc || !Array.isArray(doc.stages) || doc.stages.length === 0) throw new PatternError('stages: need at least one stage');
  const skip = doc.skip ?? AfterMatchSkip.noSkip();
  let built: Pattern<E> | undefined;
  doc.stages.forEach((stage, index) => {
    const at = `stages[${index}]`;
    if (typeof stage.name !== 'string') throw new PatternError(`${at}.name: need a string`);
    let pattern: Pattern<E>;
    if (!built) pattern = Pattern.begin<E>(stage.name, skip);
    else {
      const join: NonNullable<StageSpec['contiguity']> = stage.contiguity ?? 'followedBy';
      if (!JOINS.includes(join)) throw new PatternError(`${at}.contiguity: unknown '${String(join)}'`);
      pattern = built[join](stage.name);
    }
    if (stage.where) pattern = pattern.where(compileCondition(stage.where, predicates, `${at}.where`));
    if (stage.or) pattern = pattern.or(compileCondition(stage.or, predicates, `${at}.or`));
    if (stage.times !== undefined) pattern = Array.isArray(stage.times) ? pattern.times(stage.times[0], stage.times[1]) : pattern.times(stage.times as number);
    if (stage.timesOrMore !== undefined) pattern = pattern.timesOrMore(stage.timesOrMore);
    if (stage.oneOrMore) pattern = pattern.oneOrMore();
    if (stage.until) pattern = pattern.until(compileCondition(stage.until, predicates, `${at}.until`));
    if (stage.optional) pattern = pattern.optional();
    if (stage.greedy) pattern = pattern.greedy();
    if (stage.consecutive) pattern = pattern.consecutive();
    if (stage.allowCombinations) pattern = pattern.allowCombinations();
    built = pattern;
  });
  let result = built as Pattern<E>;
  if (doc.within !== undefined) result = result.within(doc.within);
  result.definition(); // validate now, with the document's names in the errors
  return result;
}

/** Parses a YAML (or JSON, a subset of YAML) pattern document. */
export function patternFromYaml<E>(text: string, predicates: PredicateRegistry<E> = {}): Pattern<E> {
  return patternFromDocument<E>(parseYaml(text) as PatternDocument, predicates);
}

function compileCondition<E>(spec: ConditionSpec, predicates: PredicateRegistry<E>, at: string): Condition<E> {
  if (spec === null || typeof spec !== 'object') throw new PatternError(`${at}: need a condition object`);
  if ('all' in spec) {
    const parts = spec.all.map((part, i) => compileCondition(part, predicates, `${at}.all[${i}]`));
    if (parts.length === 1) return parts[0];
    if (parts.length === 2) {
      const [a, b] = parts;
      return (event, ctx) => a(event, ctx) && b(event, ctx);
    }
    return (event, ctx) => {
      for (let i = 0; i < parts.length; i++) if (!parts[i](event, ctx)) return false;
      return true;
    };
  }
  if ('any' in spec) {
    const parts = spec.any.map((part, i) => compileCondition(part, predicates, `${at}.any[${i}]`));
    if (parts.length === 1) return parts[0];
    if (parts.length === 2) {
      const [a, b] = parts;
      return (event, ctx) => a(event, ctx) || b(event, ctx);
    }
    return (event, ctx) => {
      for (let i = 0; i < parts.length; i++) if (parts[i](event, ctx)) return true;
      return false;
    };
  }
  if ('not' in spec) {
    const inner = compileCondition(spec.not, predicates, `${at}.not`);
    return (event, ctx) => !inner(event, ctx);
  }
  if ('predicate' in spec) {
    const factory = predicates[spec.predicate];
    if (!factory) throw new PatternError(`${at}.predicate: no predicate named '${spec.predicate}'`);
    return factory(spec.params ?? {});
  }
  if ('field' in spec) {
    const compare = comparator(spec.op, at);
    const read = fieldReader(spec.field);
    const zscoreIn = spec.zscoreIn;
    const to = spec.to;
    if (!zscoreIn && to !== null && typeof to === 'object' && 'value' in to && to.value !== undefined) return constantComparison<E>(spec.op, read, to.value);
    const left = zscoreIn ? (event: E, ctx: MatchContext<E>) => ctx.aggregate(zscoreIn).zscore(Number(read(event))) : (event: E) => read(event);
    const right = operand<E>(spec.to, `${at}.to`);
    return (event, ctx) => compare(left(event, ctx), right(event, ctx));
  }
  throw new PatternError(`${at}: need one of all, any, not, predicate or field`);
}

function operand<E>(spec: Operand, at: string): (event: E, ctx: MatchContext<E>) => unknown {
  if (spec === null || typeof spec !== 'object') throw new PatternError(`${at}: need an operand object`);
  if ('value' in spec) return () => spec.value;
  if ('aggregate' in spec) {
    const factor = spec.factor ?? 1;
    return (_event, ctx) => ctx.aggregate(spec.aggregate)[spec.stat] * factor;
  }
  if ('stage' in spec) {
    const factor = spec.factor ?? 1;
    const read = fieldReader(spec.field);
    return (_event, ctx) => {
      const other = spec.pick === 'first' ? ctx.first(spec.stage) : ctx.last(spec.stage);
      return other === undefined ? undefined : factor === 1 ? read(other) : Number(read(other)) * factor;
    };
  }
  if ('field' in spec) return fieldReader(spec.field);
  throw new PatternError(`${at}: need one of value, field, stage or aggregate`);
}

function comparator(op: ComparisonOp, at: string): (a: unknown, b: unknown) => boolean {
  switch (op) {
    case '<':
      return (a, b) => a !== undefined && b !== undefined && (a as number) < (b as number);
    case '<=':
      return (a, b) => a !== undefined && b !== undefined && (a as number) <= (b as number);
    case '>':
      return (a, b) => a !== undefined && b !== undefined && (a as number) > (b as number);
    case '>=':
      return (a, b) => a !== undefined && b !== undefined && (a as number) >= (b as number);
    case '==':
      return (a, b) => a === b;
    case '!=':
      return (a, b) => a !== b;
    default:
      throw new PatternError(`${at}.op: unknown operator '${String(op)}'`);
  }
}

/** A field compared with a constant: one closure, no operand calls (the most common rule condition). */
function constantComparison<E>(op: ComparisonOp, read: (event: unknown) => unknown, value: unknown): Condition<E> {
  switch (op) {
    case '<':
      return (event) => {
        const a = read(event);
        return a !== undefined && (a as number) < (value as number);
      };
    case '<=':
      return (event) => {
        const a = read(event);
        return a !== undefined && (a as number) <= (value as number);
      };
    case '>':
      return (event) => {
        const a = read(event);
        return a !== undefined && (a as number) > (value as number);
      };
    case '>=':
      return (event) => {
        const a = read(event);
        return a !== undefined && (a as number) >= (value as number);
      };
    case '==':
      return (event) => read(event) === value;
    case '!=':
      return (event) => read(event) !== value;
  }
}

/** Reads a dotted path of own properties only (no prototype walk, so `__proto__` reads nothing). */
function fieldReader(path: string): (event: unknown) => unknown {
  const parts = path.split('.');
  if (parts.length === 1) {
    const name = parts[0];
    return (event) => (event !== null && typeof event === 'object' && Object.prototype.hasOwnProperty.call(event, name) ? (event as Record<string, unknown>)[name] : undefined);
  }
  return (event) => {
    let value: unknown = event;
    for (let i = 0; i < parts.length; i++) {
      if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, parts[i])) return undefined;
      value = (value as Record<string, unknown>)[parts[i]];
    }
    return value;
  };
}
