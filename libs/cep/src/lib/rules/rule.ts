/**
 * Rules: what the CEP service runs. A rule is a pattern (a built-in with parameters, or a JSON/YAML
 * pattern document) bound to its input topics, its key and its severity. Each rule runs in its own
 * `CepEngine`, so changing or disabling one rule leaves every other rule's state untouched.
 */
import type { PatternDocument } from '../definition';
import type { CepEngineOptions, CepMatch } from '../engine';

/** One decoded input record: the contract value of a catalog topic (e.g. an `UnderlyingTrade.Value`). */
export interface CepEvent {
  readonly topic: string;
  readonly value: Readonly<Record<string, unknown>>;
}

export type RuleSeverity = 'info' | 'warning' | 'critical';

/** A rule as written to the compacted rules topic (keyed by `id`) and accepted by the admin endpoint. */
export interface RuleSpec {
  /** Machine name, `^[a-z][a-z0-9_]*$`, e.g. `momentum_surge`. */
  readonly id: string;
  /** Increases with every change; alerts name it. */
  readonly version: number;
  readonly enabled: boolean;
  readonly severity: RuleSeverity;
  readonly description?: string;
  /** A built-in pattern by name (e.g. `MOMENTUM_SURGE`) with parameters overriding its defaults... */
  readonly builtin?: string;
  readonly params?: Readonly<Record<string, unknown>>;
  /** ...or a pattern document over the given input topics, keyed by a field of the events. */
  readonly document?: RuleDocument;
}

/**
 * Where a rule's state lives when the service splits its inputs. `partitioned`: one engine per partition
 * number, which needs every input partitioned by the rule's key (symbol-keyed topics for a rule keyed by
 * symbol). `global`: one engine reading every partition of the inputs, for rules keyed by something the
 * inputs are not partitioned by (an account over CDC tables keyed by primary key, a pair of symbols,
 * candles keyed by symbol and window); meant for low-rate inputs or selective rules.
 */
export type RulePlacement = 'partitioned' | 'global';

/**
 * The placement a rule over these inputs needs by default: `global` when an input is not keyed by a
 * plain field of its events (CDC change topics are keyed by primary key, candle topics by symbol and
 * window start), `partitioned` otherwise.
 */
export function defaultPlacement(inputs: readonly string[]): RulePlacement {
  return inputs.some((topic) => topic.startsWith('cdc.') || topic.startsWith('candles.')) ? 'global' : 'partitioned';
}

export interface RuleDocument {
  readonly inputs: readonly string[];
  /** Field of the event value the rule is keyed by, e.g. `symbol`. */
  readonly keyBy: string;
  /** Default: `defaultPlacement(inputs)`; `global` when the inputs are not partitioned by `keyBy`. */
  readonly placement?: RulePlacement;
  readonly pattern: PatternDocument;
  readonly outOfOrdernessNs?: number;
  readonly allowedLatenessNs?: number;
  readonly aggregates?: readonly RuleAggregate[];
}

export interface RuleAggregate {
  readonly name: string;
  readonly windowNs: number;
  /** Field sampled into the window. */
  readonly field: string;
  readonly weightField?: string;
}

/** A rule ready to run: engine options for one `CepEngine` whose single pattern has the rule's id and version. */
export interface CompiledRule {
  readonly spec: RuleSpec;
  /** A built-in's parameters in force: the rule's params over the built-in's defaults (absent for documents). */
  readonly params?: Readonly<Record<string, unknown>>;
  /** Topics the rule reads; the service feeds it only records of these. */
  readonly inputs: readonly string[];
  /** Where the service runs it: per partition number, or once over every partition of its inputs. */
  readonly placement: RulePlacement;
  readonly options: CepEngineOptions<CepEvent>;
  /** Message and measured attributes of an alert raised by a match. */
  describe(match: CepMatch<CepEvent>): AlertDescription;
}

export interface AlertDescription {
  readonly message: string;
  readonly attributes: Readonly<Record<string, number | string | boolean | null>>;
}

export class RuleError extends Error {
  override readonly name = 'RuleError';
}
