/**
 * What a built-in pattern is (a parameterised rule template) and the pieces several share: event
 * accessors over the contract values, and the edge trigger that turns a per-event measurement into
 * one match per episode.
 */
import type { AggregateSpec, CapturedValue, CaptureScope, CepMatch, KeyedStateSpec, StateUpdateScope } from '../engine';
import type { MatchedEvent } from '../nfa';
import type { Condition, Pattern } from '../pattern';
import type { ParamSpecs, ResolvedParams } from './params';
import type { AlertDescription, CepEvent, RulePlacement, RuleSeverity } from './rule';

export const NS_PER_MS = 1_000_000;

/** What a built-in contributes to a rule's engine, given its resolved parameters. */
export interface BuiltinPlan {
  keyBy(event: CepEvent): string;
  filter?(event: CepEvent): boolean;
  readonly aggregates?: readonly AggregateSpec<CepEvent>[];
  readonly state?: readonly KeyedStateSpec<CepEvent>[];
  readonly pattern: Pattern<CepEvent>;
  capture?(match: CepMatch<CepEvent>, scope: CaptureScope): Readonly<Record<string, CapturedValue>>;
}

export interface BuiltinPattern {
  /** Upper-case name rules refer to, e.g. `MOMENTUM_SURGE`. */
  readonly name: string;
  readonly description: string;
  /** Severity of the default rule. */
  readonly severity: RuleSeverity;
  /** Every parameter with its default and bounds (event-time parameters included, see `eventTimeParams`). */
  readonly params: ParamSpecs;
  /** What the key of an alert is, in words. */
  readonly keyDescription: string;
  /** Checks across parameters; returns `<param>: <what is wrong>` for the first problem. */
  check?(params: ResolvedParams): string | undefined;
  /** Topics the rule reads with these parameters. */
  inputs(params: ResolvedParams): readonly string[];
  /** Where the service runs the rule (default: `defaultPlacement` of its inputs). */
  placement?(params: ResolvedParams): RulePlacement;
  plan(params: ResolvedParams): BuiltinPlan;
  /** Message and measured attributes of a match (from its events and `captured` values). */
  describe(match: CepMatch<CepEvent>, params: ResolvedParams): AlertDescription;
}

/** The event-time parameters every built-in has, with its own defaults. */
export function eventTimeParams(defaults: { outOfOrdernessMs: number; idleKeyTtlMs: number; allowedLatenessMs?: number }): ParamSpecs {
  return {
    outOfOrdernessMs: {
      type: 'integer',
      default: defaults.outOfOrdernessMs,
      min: 0,
      max: 600_000,
      unit: 'ms',
      description: 'Bounded out-of-orderness: events up to this far behind the newest of their partition are reordered, not late',
    },
    allowedLatenessMs: {
      type: 'integer',
      default: defaults.allowedLatenessMs ?? 0,
      min: 0,
      max: 3_600_000,
      unit: 'ms',
      description: 'Events behind the watermark by up to this much are still applied when in order for their key; later ones go to the late output',
    },
    idleKeyTtlMs: {
      type: 'integer',
      default: defaults.idleKeyTtlMs,
      min: 1_000,
      max: 7 * 86_400_000,
      unit: 'ms',
      description: 'A key with no event for this long (event time) drops its windows and state (partial matches still run to their window)',
    },
  };
}

// ---------------------------------------------------------------- reading contract values

/** A number from a contract field: numbers as they are, decimal strings (CDC numeric columns) parsed; NaN otherwise. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return Number.NaN;
}

export function field(event: CepEvent, name: string): unknown {
  return event.value[name];
}

export function str(event: CepEvent, name: string): string {
  const value = event.value[name];
  return typeof value === 'string' ? value : '';
}

export function num(event: CepEvent, name: string): number {
  const value = event.value[name];
  return typeof value === 'number' ? value : Number.NaN;
}

/** The symbol a market event is about: `symbol`, or the primary symbol of a news item. */
export function symbolKey(event: CepEvent): string {
  const symbol = event.value['symbol'];
  if (typeof symbol === 'string') return symbol;
  const symbols = event.value['symbols'];
  return Array.isArray(symbols) && typeof symbols[0] === 'string' ? symbols[0] : '';
}

export function underlyingKey(event: CepEvent): string {
  return str(event, 'underlying');
}

/** The events of a match in match order (stages in pattern order). */
export function matchedEvents(match: CepMatch<CepEvent>): MatchedEvent<CepEvent>[] {
  return Object.values(match.events).flat();
}

export function lastEvent(match: CepMatch<CepEvent>): MatchedEvent<CepEvent> {
  const all = matchedEvents(match);
  return all.reduce((latest, event) => (event.ts >= latest.ts ? event : latest), all[0]);
}

/** Rounds for people (attributes and messages), keeping `digits` significant decimals. */
export function round(value: number, digits = 4): number | null {
  if (!Number.isFinite(value)) return null;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** A measurement with its numbers rounded for people (4 decimals; non-finite ones become null). */
export function roundAll(values: Readonly<Record<string, CapturedValue>>): Record<string, CapturedValue> {
  const out: Record<string, CapturedValue> = {};
  for (const [name, value] of Object.entries(values)) out[name] = typeof value === 'number' ? round(value) : value;
  return out;
}

export function pct(value: number, digits = 2): string {
  return `${(value * 100).toFixed(digits)}%`;
}

export function seconds(ns: number): string {
  const s = ns / 1e9;
  return s >= 120 ? `${round(s / 60, 1)} min` : `${round(s, 1)} s`;
}

// ---------------------------------------------------------------- edge trigger

export type Measurement = Readonly<Record<string, CapturedValue>>;

export interface EdgeTrigger {
  readonly state: KeyedStateSpec<CepEvent>;
  /** True for the event that fired the trigger. */
  readonly fired: Condition<CepEvent>;
  /** The measurement of the event that fired (for `capture`). */
  measurement(scope: CaptureScope): Measurement;
}

/**
 * Turns a per-event measurement into one match per episode: the trigger fires on an event whose
 * measurement crosses into `fires` when the previous measured event of the key did not (a rising
 * edge), and not within `cooldownNs` of its last firing. The measurement is taken once, in a keyed
 * state update, so it may read aggregates (over the events before this one) and other state.
 * `measure` returns undefined for events it does not measure (other topics): they change nothing.
 */
export function edgeTrigger<M extends Measurement>(
  name: string,
  measure: (event: CepEvent, scope: StateUpdateScope) => M | undefined,
  fires: (measurement: M) => boolean,
  cooldownNs: number,
): EdgeTrigger {
  return {
    state: {
      name,
      update(event, table, scope) {
        table.delete('fired');
        const measurement = measure(event, scope);
        if (measurement === undefined) return;
        const on = fires(measurement);
        if (on && table.get('held') !== true) {
          const firedAt = table.get('firedAt');
          if (typeof firedAt !== 'number' || scope.ts >= firedAt + cooldownNs) {
            table.set('fired', measurement);
            table.set('firedAt', scope.ts);
          }
        }
        table.set('held', on);
      },
    },
    fired: (_event, ctx) => ctx.state(name).has('fired'),
    measurement: (scope) => (scope.state(name).get('fired') as Measurement | undefined) ?? {},
  };
}
