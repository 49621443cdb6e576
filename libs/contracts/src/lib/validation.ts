import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { topicSpec, type EventOf, type TopicName } from './catalog';
import type { FieldError, ValidationContext } from './field-error';
import { PATTERN_MEANINGS } from './field-types';
import type { TopicSpec } from './topic-spec';

/** Event times up to this far ahead of the validating machine's clock are accepted (clock skew between hosts). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** At most this many field errors are reported per record: enough to fix it, bounded for DLQ headers. */
const MAX_ERRORS = 20;

export type ValidationResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly FieldError[] };

export interface ValidateOptions {
  /** Wall clock in epoch ms, for the "event time in the future" check; defaults to Date.now(). */
  readonly nowMs?: number;
  readonly maxFutureSkewMs?: number;
  /**
   * Accept fields the schema does not know. Off for producers and ingestion (a misspelt field is an
   * error); on for a consumer reading a record written with another schema version, whose extra
   * optional fields it may ignore (see decodeEvent).
   */
  readonly allowUnknownFields?: boolean;
}

/** A record that does not satisfy its contract, with every field at fault. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';

  constructor(
    readonly errors: readonly FieldError[],
    readonly topic?: string,
  ) {
    super(`${topic ? `invalid ${topic} record: ` : ''}${formatFieldErrors(errors)}`);
  }
}

/** "/bidPrice: expected number >= 0, got -1; /ts: required" — for logs, HTTP bodies and the dlq.reason header. */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((error) => (error.path ? `${error.path}: ${error.message}` : error.message)).join('; ');
}

const strictChecks = new WeakMap<TSchema, TypeCheck<TSchema>>();
const lenientChecks = new WeakMap<TSchema, TypeCheck<TSchema>>();

/** Copy of a schema without `additionalProperties: false` anywhere, TypeBox's symbol keys kept. */
function openSchema<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map(openSchema) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  const copy: Record<string | symbol, unknown> = {};
  for (const key of Object.getOwnPropertySymbols(schema))
    copy[key] = (schema as Record<symbol, unknown>)[key];
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'additionalProperties' && value === false) continue;
    copy[key] = openSchema(value);
  }
  return copy as T;
}

/** The compiled checker of a schema, built once and cached (compiling costs far more than checking). */
export function compiledCheck<S extends TSchema>(schema: S, allowUnknownFields = false): TypeCheck<S> {
  const cache = allowUnknownFields ? lenientChecks : strictChecks;
  let check = cache.get(schema);
  if (!check) {
    check = TypeCompiler.Compile(allowUnknownFields ? openSchema(schema) : schema);
    cache.set(schema, check);
  }
  return check as TypeCheck<S>;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'number' && Number.isInteger(value) ? 'integer' : typeof value;
}

function schemaTypeName(schema: Record<string, unknown>): string {
  if ('const' in schema) return JSON.stringify(schema['const']);
  if (typeof schema['type'] === 'string') return schema['type'];
  return 'value';
}

function unionMessage(error: ValueError): FieldError[] {
  const branches = (error.schema as { anyOf?: Record<string, unknown>[] }).anyOf ?? [];
  const constants = branches.filter((branch) => 'const' in branch);
  const value = error.value;
  if (value === undefined) return [{ path: error.path, message: 'required' }];
  if (constants.length > 0 && constants.length === branches.length) {
    const allowed = constants.map((branch) => JSON.stringify(branch['const'])).join(', ');
    return [{ path: error.path, message: `expected one of ${allowed}, got ${show(value)}` }];
  }
  // A value of the right JSON type that fails inside (e.g. an object of a nullable object field):
  // report that branch's own errors, which name the nested field.
  const actual = typeName(value);
  const index = branches.findIndex(
    (branch) => branch['type'] === actual || (branch['type'] === 'number' && actual === 'integer'),
  );
  if (index >= 0 && error.errors[index]) {
    const nested = collect(error.errors[index]);
    if (nested.length > 0) return nested;
  }
  const expected = branches.map(schemaTypeName).join(' or ');
  return [{ path: error.path, message: `expected ${expected}, got ${show(value)}` }];
}

function describe(error: ValueError): FieldError[] {
  const schema = error.schema as Record<string, unknown>;
  const value = error.value;
  const at = (message: string): FieldError[] => [{ path: error.path, message }];
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return at('required');
    case ValueErrorType.ObjectAdditionalProperties:
      return at('unknown field');
    case ValueErrorType.Union:
      return unionMessage(error);
    case ValueErrorType.Literal:
      return at(`expected ${JSON.stringify(schema['const'])}, got ${show(value)}`);
    case ValueErrorType.Number:
    case ValueErrorType.Integer:
    case ValueErrorType.String:
    case ValueErrorType.Boolean:
    case ValueErrorType.Null:
    case ValueErrorType.Object:
    case ValueErrorType.Array:
    case ValueErrorType.Tuple:
      if (typeof value === 'number' && !Number.isFinite(value)) {
        // JSON has no Infinity or NaN: a literal beyond the double range (1e400) parses to Infinity.
        return at(`expected a finite number, got ${Number.isNaN(value) ? 'NaN' : 'a number too large to represent (beyond ±1.8e308)'}`);
      }
      return at(
        value === undefined
          ? 'required'
          : `expected ${schemaTypeName(schema)}, got ${typeName(value)} ${show(value)}`,
      );
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return at(`expected ${schema['type']} >= ${schema['minimum']}, got ${show(value)}`);
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerExclusiveMinimum:
      return at(`expected ${schema['type']} > ${schema['exclusiveMinimum']}, got ${show(value)}`);
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return at(`expected ${schema['type']} <= ${schema['maximum']}, got ${show(value)}`);
    case ValueErrorType.NumberExclusiveMaximum:
    case ValueErrorType.IntegerExclusiveMaximum:
      return at(`expected ${schema['type']} < ${schema['exclusiveMaximum']}, got ${show(value)}`);
    case ValueErrorType.StringPattern: {
      const pattern = String(schema['pattern']);
      return at(
        `expected ${PATTERN_MEANINGS[pattern] ?? `a string matching ${pattern}`}, got ${show(value)}`,
      );
    }
    case ValueErrorType.StringMinLength:
      return at(value === '' ? 'must not be empty' : `expected at least ${schema['minLength']} characters`);
    case ValueErrorType.StringMaxLength:
      return at(`expected at most ${schema['maxLength']} characters, got ${String(value).length}`);
    case ValueErrorType.ArrayMinItems:
      return at(`expected at least ${schema['minItems']} items, got ${(value as unknown[]).length}`);
    case ValueErrorType.ArrayMaxItems:
      return at(`expected at most ${schema['maxItems']} items, got ${(value as unknown[]).length}`);
    case ValueErrorType.TupleLength:
      return at(`expected exactly ${schema['minItems']} items, got ${(value as unknown[]).length}`);
    default:
      return at(error.message);
  }
}

/** Field errors of a failed check, the first per path (a missing field is "required", not also "expected string"). */
function collect(errors: Iterable<ValueError>): FieldError[] {
  const result: FieldError[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    for (const item of describe(error)) {
      if (seen.has(item.path)) continue;
      seen.add(item.path);
      result.push(item);
    }
    if (result.length >= MAX_ERRORS) break;
  }
  return result;
}

function resolve(topicOrSpec: string | TopicSpec): TopicSpec | undefined {
  return typeof topicOrSpec === 'string' ? topicSpec(topicOrSpec) : topicOrSpec;
}

/**
 * Checks a value against a topic's contract: its JSON Schema (compiled once per schema) and then its
 * semantic invariants (crossed quotes, impossible dates, event time from the future). Never throws on
 * bad data; errors name the field by JSON Pointer.
 */
export function validateEvent<T extends TopicName>(
  topic: T,
  value: unknown,
  options?: ValidateOptions,
): ValidationResult<EventOf<T>>;
export function validateEvent<S extends TSchema>(
  spec: TopicSpec<S>,
  value: unknown,
  options?: ValidateOptions,
): ValidationResult<Static<S>>;
export function validateEvent(
  topicOrSpec: string | TopicSpec,
  value: unknown,
  options?: ValidateOptions,
): ValidationResult<unknown>;
export function validateEvent(
  topicOrSpec: string | TopicSpec,
  value: unknown,
  options: ValidateOptions = {},
): ValidationResult<unknown> {
  const spec = resolve(topicOrSpec);
  if (!spec) return { ok: false, errors: [{ path: '', message: `unknown topic "${String(topicOrSpec)}"` }] };
  const check = compiledCheck(spec.schema, options.allowUnknownFields ?? false);
  if (!check.Check(value)) return { ok: false, errors: collect(check.Errors(value)) };
  if (spec.invariants) {
    const context: ValidationContext = {
      nowMs: options.nowMs ?? Date.now(),
      maxFutureSkewMs: options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS,
    };
    const errors = spec.invariants(value, context);
    if (errors.length > 0) return { ok: false, errors: errors.slice(0, MAX_ERRORS) };
  }
  return { ok: true, value };
}

export interface DecodeOptions extends ValidateOptions {
  /**
   * The record's schema.version header. A record written with another version than this build's is read
   * leniently (unknown fields ignored): between compatible versions only optional fields come and go.
   */
  readonly schemaVersion?: number | string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a record value (JSON bytes) and validates it; throws ValidationError naming the fields at fault. */
export function decodeEvent<T extends TopicName>(
  topic: T,
  data: Uint8Array | string | null,
  options?: DecodeOptions,
): EventOf<T>;
export function decodeEvent<S extends TSchema>(
  spec: TopicSpec<S>,
  data: Uint8Array | string | null,
  options?: DecodeOptions,
): Static<S>;
export function decodeEvent(
  topicOrSpec: string | TopicSpec,
  data: Uint8Array | string | null,
  options?: DecodeOptions,
): unknown;
export function decodeEvent(
  topicOrSpec: string | TopicSpec,
  data: Uint8Array | string | null,
  options: DecodeOptions = {},
): unknown {
  const spec = resolve(topicOrSpec);
  const topic = typeof topicOrSpec === 'string' ? topicOrSpec : topicOrSpec.topic;
  if (!spec) throw new ValidationError([{ path: '', message: `unknown topic "${topic}"` }], topic);
  if (data === null || data.length === 0)
    throw new ValidationError([{ path: '', message: 'empty value (tombstone)' }], topic);
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof data === 'string' ? data : utf8.decode(data));
  } catch (error) {
    throw new ValidationError([{ path: '', message: `not JSON: ${(error as Error).message}` }], topic);
  }
  const otherVersion = options.schemaVersion !== undefined && Number(options.schemaVersion) !== spec.version;
  const result = validateEvent(spec, parsed, {
    ...options,
    allowUnknownFields: options.allowUnknownFields ?? otherVersion,
  });
  if (!result.ok) throw new ValidationError(result.errors, topic);
  return result.value;
}
