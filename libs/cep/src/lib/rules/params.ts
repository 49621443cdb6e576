/**
 * Parameters of the built-in patterns: each one declared with its type, default, bounds and meaning,
 * so rules can be validated with an error that names the field, and documented from the same table.
 */
import { RuleError } from './rule';

export type ParamValue = number | string | boolean | readonly string[];

export type ParamSpec =
  | {
      readonly type: 'number' | 'integer';
      readonly default: number;
      readonly min: number;
      readonly max: number;
      /** Unit for people, e.g. 'ms', '%', 'USD'. */
      readonly unit?: string;
      readonly description: string;
    }
  | { readonly type: 'enum'; readonly values: readonly string[]; readonly default: string; readonly description: string }
  | { readonly type: 'boolean'; readonly default: boolean; readonly description: string }
  | { readonly type: 'string'; readonly pattern: RegExp; readonly default: string; readonly description: string }
  | {
      readonly type: 'strings';
      /** Allowed items (any string matching `pattern` when absent). */
      readonly values?: readonly string[];
      readonly pattern?: RegExp;
      readonly minItems: number;
      readonly default: readonly string[];
      readonly description: string;
    };

export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

/** Parameter values after defaults were merged in and every value was checked. */
export type ResolvedParams = Readonly<Record<string, ParamValue>>;

/** Merges `given` over the defaults of `specs`, refusing unknown names and values of the wrong type or out of bounds. */
export function resolveParams(specs: ParamSpecs, given: unknown, at = 'params'): ResolvedParams {
  if (given !== undefined && (given === null || typeof given !== 'object' || Array.isArray(given))) {
    throw new RuleError(`${at}: need an object of parameters, got ${describeValue(given)}`);
  }
  const values = (given ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(values)) {
    if (!Object.prototype.hasOwnProperty.call(specs, name)) {
      throw new RuleError(`${at}.${name}: unknown parameter (known: ${Object.keys(specs).join(', ')})`);
    }
  }
  const out: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = Object.prototype.hasOwnProperty.call(values, name) ? values[name] : undefined;
    out[name] = value === undefined ? spec.default : checkParam(spec, value, `${at}.${name}`);
  }
  return out;
}

function checkParam(spec: ParamSpec, value: unknown, at: string): ParamValue {
  switch (spec.type) {
    case 'number':
    case 'integer': {
      const integer = spec.type === 'integer';
      if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
        throw new RuleError(`${at}: need ${integer ? 'an integer' : 'a number'} in [${spec.min}, ${spec.max}], got ${describeValue(value)}`);
      }
      if (value < spec.min || value > spec.max) throw new RuleError(`${at}: ${value} is outside [${spec.min}, ${spec.max}]${spec.unit ? ` ${spec.unit}` : ''}`);
      return value;
    }
    case 'enum':
      if (typeof value !== 'string' || !spec.values.includes(value)) {
        throw new RuleError(`${at}: need one of ${spec.values.join(', ')}, got ${describeValue(value)}`);
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw new RuleError(`${at}: need true or false, got ${describeValue(value)}`);
      return value;
    case 'string':
      if (typeof value !== 'string' || !spec.pattern.test(value)) {
        throw new RuleError(`${at}: need a string matching ${spec.pattern.source}, got ${describeValue(value)}`);
      }
      return value;
    case 'strings': {
      if (!Array.isArray(value)) throw new RuleError(`${at}: need a list of strings, got ${describeValue(value)}`);
      if (value.length < spec.minItems) throw new RuleError(`${at}: need at least ${spec.minItems} item(s)`);
      value.forEach((item, i) => {
        const ok = typeof item === 'string' && (spec.values ? spec.values.includes(item) : spec.pattern ? spec.pattern.test(item) : true);
        if (!ok) throw new RuleError(`${at}[${i}]: ${spec.values ? `need one of ${spec.values.join(', ')}` : 'not an accepted value'}, got ${describeValue(item)}`);
      });
      if (new Set(value).size !== value.length) throw new RuleError(`${at}: lists an item twice`);
      return Object.freeze([...(value as string[])]);
    }
  }
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** A Markdown table of parameters (for the README and `GET /patterns`). */
export function paramTable(specs: ParamSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const bounds =
      spec.type === 'number' || spec.type === 'integer'
        ? `${spec.min} – ${spec.max}${spec.unit ? ` ${spec.unit}` : ''}`
        : spec.type === 'enum'
          ? spec.values.join(' \\| ')
          : spec.type === 'strings' && spec.values
            ? spec.values.join(', ')
            : spec.type;
    const def = Array.isArray(spec.default) ? spec.default.join(', ') : String(spec.default);
    return `| \`${name}\` | \`${def}\` | ${bounds} | ${spec.description} |`;
  });
  return ['| parameter | default | bounds | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
