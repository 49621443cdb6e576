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

export interface RuleDocument {
  readonly inputs: readonly string[];
  /** Field of the event value the rule is keyed by, e.g. `symbol`. */
  readonly keyBy: string;
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
