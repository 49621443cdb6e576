/**
 * From a rule as written (a built-in with parameters, or a pattern document) to the options of the
 * one `CepEngine` that runs it, refusing anything wrong with an error that names the field.
 */
import { topicSpec } from '@tributary/contracts';
import type { AggregateSpec, CepEngineOptions, CepMatch } from '../engine';
import { patternFromDocument, type ConditionSpec, type Operand, type PatternDocument, type StageSpec } from '../definition';
import { Pattern, PatternError, type PatternDefinitionOf } from '../pattern';
import { matchedEvents, NS_PER_MS, seconds } from './builtin';
import { BUILTIN_PATTERNS } from './builtins';
import { describeValue, resolveParams } from './params';
import { defaultPlacement, RuleError, type AlertDescription, type CepEvent, type CompiledRule, type RuleDocument, type RuleSpec } from './rule';

const RULE_ID = /^[a-z][a-z0-9_]*$/;
const SEVERITIES = ['info', 'warning', 'critical'];
/** Defaults of document rules. */
const DOCUMENT_OUT_OF_ORDERNESS_NS = 1_000 * NS_PER_MS;
const DOCUMENT_IDLE_KEY_TTL_NS = 3_600_000 * NS_PER_MS;

/**
 * What one rule may cost the engine: the longest `within` it may declare and the most partial matches
 * one key may hold for it. The cep-engine service sets them from `CEP_MAX_WITHIN_MS` and
 * `CEP_MAX_PARTIAL_MATCHES_PER_KEY`; the messages name those settings.
 */
export interface RuleLimits {
  readonly maxWithinNs: number;
  readonly maxPartialMatchesPerKey: number;
}

/** 6 h (four times the longest window of the built-in rules' defaults, 30 min) and 10 000 partial matches. */
export const DEFAULT_RULE_LIMITS: RuleLimits = { maxWithinNs: 6 * 3_600_000 * NS_PER_MS, maxPartialMatchesPerKey: 10_000 };

export function compileRule(spec: RuleSpec, limits: RuleLimits = DEFAULT_RULE_LIMITS): CompiledRule {
  checkSpec(spec);
  const compiled = spec.builtin !== undefined ? compileBuiltin(spec, limits) : compileDocument(spec, spec.document as RuleDocument, limits);
  return { ...compiled, options: { ...compiled.options, maxPartialMatchesPerKey: limits.maxPartialMatchesPerKey } };
}

/** A duration in ns the way an operator writes it: `7d`, `6h`, `90m`, `45s`, `250ms` (exact when it can be). */
export function formatDuration(ns: number): string {
  const ms = ns / NS_PER_MS;
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms >= 1_000 ? `${ms / 1_000}s` : `${ms}ms`;
}

/**
 * Refuses a pattern whose state has no bound: a `within` longer than the limit, or none at all on a
 * pattern with an unbounded loop (`oneOrMore`, `timesOrMore`) or a branching contiguity
 * (`allowCombinations`, `followedByAny`), whose partial matches would otherwise grow with every event.
 */
function checkPatternLimits(def: PatternDefinitionOf<CepEvent>, withinField: string, limits: RuleLimits): void {
  if (def.withinNs === undefined) {
    const growing = def.stages.find((stage) => stage.kind === 'positive' && (stage.max === Number.POSITIVE_INFINITY || stage.inner === 'any' || stage.entry === 'any'));
    if (growing !== undefined) {
      throw new RuleError(
        `${withinField}: required, as stage '${growing.name}' uses ${growing.max === Number.POSITIVE_INFINITY ? 'oneOrMore/timesOrMore' : 'allowCombinations/followedByAny'} (at most ${formatDuration(limits.maxWithinNs)}, CEP_MAX_WITHIN_MS)`,
      );
    }
    return;
  }
  if (def.withinNs > limits.maxWithinNs) {
    throw new RuleError(`${withinField}: ${formatDuration(def.withinNs)} exceeds the maximum ${formatDuration(limits.maxWithinNs)} (CEP_MAX_WITHIN_MS)`);
  }
}

function checkSpec(spec: RuleSpec): void {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new RuleError(`rule: need an object, got ${describeValue(spec)}`);
  if (typeof spec.id !== 'string' || !RULE_ID.test(spec.id) || spec.id.length > 64) {
    throw new RuleError(`id: need a machine name (lower case, digits, underscores, starting with a letter, at most 64 characters), got ${describeValue(spec.id)}`);
  }
  if (typeof spec.version !== 'number' || !Number.isInteger(spec.version) || spec.version < 1) throw new RuleError(`version: need an integer >= 1, got ${describeValue(spec.version)}`);
  if (typeof spec.enabled !== 'boolean') throw new RuleError(`enabled: need true or false, got ${describeValue(spec.enabled)}`);
  if (!SEVERITIES.includes(spec.severity)) throw new RuleError(`severity: need one of ${SEVERITIES.join(', ')}, got ${describeValue(spec.severity)}`);
  if (spec.description !== undefined && typeof spec.description !== 'string') throw new RuleError(`description: need a string, got ${describeValue(spec.description)}`);
  const hasBuiltin = spec.builtin !== undefined;
  const hasDocument = spec.document !== undefined;
  if (hasBuiltin === hasDocument) throw new RuleError(`builtin: give either builtin (with params) or document, ${hasBuiltin ? 'not both' : 'got neither'}`);
  if (hasDocument && spec.params !== undefined) throw new RuleError('params: only a builtin rule takes params (a document rule states everything in its document)');
}

function compileBuiltin(spec: RuleSpec, limits: RuleLimits): CompiledRule {
  const name = spec.builtin;
  const builtin = typeof name === 'string' && Object.prototype.hasOwnProperty.call(BUILTIN_PATTERNS, name) ? BUILTIN_PATTERNS[name] : undefined;
  if (!builtin) throw new RuleError(`builtin: unknown pattern ${describeValue(name)} (known: ${Object.keys(BUILTIN_PATTERNS).join(', ')})`);
  const params = resolveParams(builtin.params, spec.params);
  const problem = builtin.check?.(params);
  if (problem !== undefined) throw new RuleError(`params.${problem}`);
  const inputs = builtin.inputs(params);
  inputs.forEach((topic) => {
    if (!topicSpec(topic)) throw new RuleError(`params: input topic '${topic}' is not a topic of the catalog`);
  });
  let plan;
  try {
    plan = builtin.plan(params);
  } catch (error) {
    if (error instanceof PatternError) throw new RuleError(`params: ${error.message}`);
    throw error;
  }
  const definition = plan.pattern instanceof Pattern ? plan.pattern.definition() : plan.pattern;
  // The window comes from a duration parameter: name it when one equals it (windowMs, confirmWithinMs).
  const windowParam = Object.keys(builtin.params).find(
    (name) => {
      const param = builtin.params[name];
      return 'unit' in param && param.unit === 'ms' && definition.withinNs !== undefined && (params[name] as number) * NS_PER_MS === definition.withinNs;
    },
  );
  checkPatternLimits(definition, windowParam === undefined ? 'params (the pattern\'s within)' : `params.${windowParam}`, limits);
  const options: CepEngineOptions<CepEvent> = {
    patterns: [{ id: spec.id, version: spec.version, pattern: plan.pattern, ...(plan.capture ? { capture: plan.capture } : {}) }],
    keyBy: plan.keyBy,
    ...(plan.filter ? { filter: plan.filter } : {}),
    aggregates: plan.aggregates ?? [],
    state: plan.state ?? [],
    outOfOrdernessNs: (params['outOfOrdernessMs'] as number) * NS_PER_MS,
    allowedLatenessNs: (params['allowedLatenessMs'] as number) * NS_PER_MS,
    idleKeyTtlNs: (params['idleKeyTtlMs'] as number) * NS_PER_MS,
  };
  const placement = builtin.placement?.(params) ?? defaultPlacement(inputs);
  return { spec, params, inputs, placement, options, describe: (match) => builtin.describe(match, params) };
}

function compileDocument(spec: RuleSpec, doc: RuleDocument, limits: RuleLimits): CompiledRule {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new RuleError(`document: need an object, got ${describeValue(doc)}`);
  if (!Array.isArray(doc.inputs) || doc.inputs.length === 0) throw new RuleError('document.inputs: need a non-empty list of topics');
  doc.inputs.forEach((topic, i) => {
    if (typeof topic !== 'string' || !topicSpec(topic)) throw new RuleError(`document.inputs[${i}]: unknown topic ${describeValue(topic)}`);
    if (doc.inputs.indexOf(topic) !== i) throw new RuleError(`document.inputs[${i}]: '${topic}' is listed twice`);
  });
  if (typeof doc.keyBy !== 'string' || doc.keyBy === '') throw new RuleError(`document.keyBy: need the name of a field of the events, got ${describeValue(doc.keyBy)}`);
  if (doc.placement !== undefined && doc.placement !== 'partitioned' && doc.placement !== 'global') {
    throw new RuleError(`document.placement: need 'partitioned' or 'global', got ${describeValue(doc.placement)}`);
  }
  const placement = doc.placement ?? defaultPlacement(doc.inputs);
  const outOfOrdernessNs = nonNegative(doc.outOfOrdernessNs, 'document.outOfOrdernessNs', DOCUMENT_OUT_OF_ORDERNESS_NS);
  const allowedLatenessNs = nonNegative(doc.allowedLatenessNs, 'document.allowedLatenessNs', 0);
  const aggregates = documentAggregates(doc.aggregates);
  if (doc.pattern === null || typeof doc.pattern !== 'object') throw new RuleError(`document.pattern: need a pattern document, got ${describeValue(doc.pattern)}`);
  if (typeof doc.pattern.within !== 'number' || !(doc.pattern.within > 0)) {
    throw new RuleError(`document.pattern.within: need a positive duration in ns (it bounds every key's partial matches), got ${describeValue(doc.pattern.within)}`);
  }
  let pattern;
  try {
    pattern = patternFromDocument<CepEvent>(onValues(doc.pattern));
  } catch (error) {
    if (error instanceof PatternError) throw new RuleError(`document.pattern: ${error.message}`);
    throw error;
  }
  checkPatternLimits(pattern.definition(), 'document.pattern.within', limits);
  const readKey = valueReader(doc.keyBy);
  const keyOf = (event: CepEvent): string => {
    const key = readKey(event.value);
    return typeof key === 'string' ? key : typeof key === 'number' ? String(key) : '';
  };
  const options: CepEngineOptions<CepEvent> = {
    patterns: [{ id: spec.id, version: spec.version, pattern }],
    keyBy: keyOf,
    // Records without the key field reach no key (they still move event time).
    filter: (event) => keyOf(event) !== '',
    aggregates,
    outOfOrdernessNs,
    allowedLatenessNs,
    idleKeyTtlNs: Math.max(DOCUMENT_IDLE_KEY_TTL_NS, 2 * doc.pattern.within),
  };
  return { spec, inputs: [...doc.inputs], placement, options, describe: (match) => describeDocumentMatch(spec, match) };
}

function nonNegative(value: unknown, at: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new RuleError(`${at}: need a number of ns >= 0, got ${describeValue(value)}`);
  return value;
}

function documentAggregates(list: RuleDocument['aggregates']): AggregateSpec<CepEvent>[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new RuleError('document.aggregates: need a list');
  const names = new Set<string>();
  return list.map((aggregate, i) => {
    const at = `document.aggregates[${i}]`;
    if (aggregate === null || typeof aggregate !== 'object') throw new RuleError(`${at}: need an object`);
    if (typeof aggregate.name !== 'string' || aggregate.name === '') throw new RuleError(`${at}.name: need a name`);
    if (names.has(aggregate.name)) throw new RuleError(`${at}.name: '${aggregate.name}' is used twice`);
    names.add(aggregate.name);
    if (typeof aggregate.windowNs !== 'number' || !(aggregate.windowNs > 0) || !Number.isFinite(aggregate.windowNs)) throw new RuleError(`${at}.windowNs: need a positive number of ns, got ${describeValue(aggregate.windowNs)}`);
    if (typeof aggregate.field !== 'string' || aggregate.field === '') throw new RuleError(`${at}.field: need a field name`);
    if (aggregate.weightField !== undefined && (typeof aggregate.weightField !== 'string' || aggregate.weightField === '')) throw new RuleError(`${at}.weightField: need a field name`);
    const read = valueReader(aggregate.field);
    const weight = aggregate.weightField === undefined ? undefined : valueReader(aggregate.weightField);
    return {
      name: aggregate.name,
      windowNs: aggregate.windowNs,
      value: (event) => numberOf(read(event.value)),
      ...(weight ? { weight: (event: CepEvent) => numberOf(weight(event.value)) ?? 0 } : {}),
    };
  });
}

function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

/** Reads a dotted path of own properties of a value (as the document conditions do). */
function valueReader(path: string): (value: unknown) => unknown {
  const parts = path.split('.');
  return (value) => {
    let at: unknown = value;
    for (const part of parts) {
      if (at === null || typeof at !== 'object' || !Object.prototype.hasOwnProperty.call(at, part)) return undefined;
      at = (at as Record<string, unknown>)[part];
    }
    return at;
  };
}

/**
 * Document fields name fields of the record's value (`price`, `after.account`); `$topic` is the
 * topic the record came from. The engine's events are `{ topic, value }`, so paths are rewritten.
 */
function onValues(doc: PatternDocument): PatternDocument {
  const path = (name: unknown): unknown => (typeof name !== 'string' ? name : name === '$topic' ? 'topic' : `value.${name}`);
  const operand = (spec: Operand): Operand => (spec !== null && typeof spec === 'object' && 'field' in spec ? ({ ...spec, field: path(spec.field) } as Operand) : spec);
  const condition = (spec: ConditionSpec | undefined): ConditionSpec | undefined => {
    if (spec === null || typeof spec !== 'object') return spec;
    if ('all' in spec && Array.isArray(spec.all)) return { all: spec.all.map((part) => condition(part) as ConditionSpec) };
    if ('any' in spec && Array.isArray(spec.any)) return { any: spec.any.map((part) => condition(part) as ConditionSpec) };
    if ('not' in spec) return { not: condition(spec.not) as ConditionSpec };
    if ('field' in spec) return { ...spec, field: path(spec.field) as string, to: operand(spec.to) };
    return spec;
  };
  if (!Array.isArray(doc.stages)) return doc;
  return {
    ...doc,
    stages: doc.stages.map((stage: StageSpec) =>
      stage === null || typeof stage !== 'object'
        ? stage
        : { ...stage, ...(stage.where ? { where: condition(stage.where) } : {}), ...(stage.or ? { or: condition(stage.or) } : {}), ...(stage.until ? { until: condition(stage.until) } : {}) },
    ),
  };
}

function describeDocumentMatch(spec: RuleSpec, match: CepMatch<CepEvent>): AlertDescription {
  const events = matchedEvents(match);
  const span = match.lastEventTs - match.windowStart;
  const stages = Object.entries(match.events).map(([stage, list]) => `${stage} x${list.length}`);
  return {
    message: `${spec.description ?? spec.id} (${match.key}): ${stages.join(', ')} within ${seconds(span)}`.slice(0, 1024),
    attributes: { events: events.length, spanSeconds: span / 1e9, ...Object.fromEntries(Object.entries(match.events).map(([stage, list]) => [`${stage}Count`, list.length])) },
  };
}
