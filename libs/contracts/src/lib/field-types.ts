import {
  Type,
  type TLiteral,
  type TNull,
  type TSchema,
  type TUnion,
  type SchemaOptions,
} from '@sinclair/typebox';
import { EPOCH_NANOS_PATTERN } from './event-time';

/** Unsigned 64-bit integers (exchange sequence numbers, Kafka offsets) as decimal strings: they exceed 2^53. */
export const UINT64_PATTERN = '^(0|[1-9][0-9]{0,19})$';
/** Upper-case ticker of a stock, ETF or index, e.g. "AAPL", "BRK.B", "SPX". */
export const TICKER_PATTERN = '^[A-Z0-9][A-Z0-9./-]{0,19}$';
/** Any instrument we trade: a ticker or an OCC option symbol. */
export const INSTRUMENT_PATTERN = '^[A-Z0-9][A-Z0-9./-]{0,20}$';
/** OCC/OSI option symbol without padding: root (1-6), expiry YYMMDD, C or P, strike x 1000 on 8 digits. */
export const OCC_SYMBOL_PATTERN = '^[A-Z0-9]{1,6}[0-9]{6}[CP][0-9]{8}$';
export const DATE_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$';
/** An ISO-8601 instant in UTC, e.g. "2026-11-24T14:30:00.123Z". */
export const ISO_INSTANT_PATTERN = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?Z$';
/** Machine names of indicators, metrics, rules and models, e.g. "rsi_14", "var_95". */
export const SNAKE_CASE_PATTERN = '^[a-z][a-z0-9_]*$';
/** A duration such as "500ms", "30s", "5m", "1h", "1d". */
export const DURATION_PATTERN = '^[1-9][0-9]*(ms|s|m|h|d)$';
/** Exchange or venue code: OPRA/UTP participant letters ("C", "Q") or a MIC ("XNAS"). */
export const EXCHANGE_PATTERN = '^[A-Z0-9]{1,8}$';

/** What each pattern means, so a validation error says "expected an OCC option symbol" rather than a regex. */
export const PATTERN_MEANINGS: Readonly<Record<string, string>> = {
  [EPOCH_NANOS_PATTERN]: 'epoch nanoseconds as a decimal string, e.g. "1742567400123456789"',
  [UINT64_PATTERN]: 'an unsigned integer as a decimal string',
  [TICKER_PATTERN]: 'an upper-case ticker symbol, e.g. "AAPL"',
  [INSTRUMENT_PATTERN]: 'a ticker or an OCC option symbol, e.g. "AAPL" or "AAPL250321C00215000"',
  [OCC_SYMBOL_PATTERN]: 'an OCC option symbol, e.g. "AAPL250321C00215000"',
  [DATE_PATTERN]: 'a date YYYY-MM-DD',
  [ISO_INSTANT_PATTERN]: 'an ISO-8601 UTC instant, e.g. "2026-11-24T14:30:00.123Z"',
  [SNAKE_CASE_PATTERN]: 'a snake_case name, e.g. "rsi_14"',
  [DURATION_PATTERN]: 'a duration such as "500ms", "5m", "1h"',
  [EXCHANGE_PATTERN]: 'an upper-case exchange code, e.g. "C" or "XNAS"',
};

export function schemaId(event: string, version: number): string {
  return `urn:tributary:schema:${event}:v${version}`;
}

type LiteralUnion<T extends readonly string[]> = TUnion<TLiteral<T[number]>[]>;

/**
 * Field builders shared by the event schemas, so the same concept (an event time, a price, an option
 * right) has the same type and constraints everywhere. Every builder takes the field's description.
 */
export const Field = {
  /** Epoch nanoseconds UTC as a decimal string (nanosecond times exceed 2^53, so not a JSON number). */
  nanos(description: string) {
    return Type.String({ pattern: EPOCH_NANOS_PATTERN, description });
  },
  /** The event time every market event carries as `ts`. */
  eventTime(
    description = 'Event time: when it happened at the source, epoch nanoseconds UTC as a decimal string.',
  ) {
    return Type.String({ pattern: EPOCH_NANOS_PATTERN, description });
  },
  /** A price that may be 0 (an empty side of a quote). */
  price(description: string) {
    return Type.Number({ minimum: 0, description });
  },
  /** A price that must be strictly positive (a trade, a strike). */
  positivePrice(description: string) {
    return Type.Number({ exclusiveMinimum: 0, description });
  },
  /** A size in shares or contracts that may be 0. */
  size(description: string) {
    return Type.Integer({ minimum: 0, description });
  },
  positiveSize(description: string) {
    return Type.Integer({ minimum: 1, description });
  },
  ticker(description: string) {
    return Type.String({ pattern: TICKER_PATTERN, description });
  },
  optionSymbol(description = 'OCC option symbol (OSI, unpadded), e.g. "AAPL250321C00215000".') {
    return Type.String({ pattern: OCC_SYMBOL_PATTERN, description });
  },
  date(description: string) {
    return Type.String({ pattern: DATE_PATTERN, description });
  },
  right(description = 'Option right.') {
    return Field.oneOf(['call', 'put'] as const, description);
  },
  exchange(description: string) {
    return Type.String({ pattern: EXCHANGE_PATTERN, description });
  },
  conditions(description: string) {
    return Type.Array(Type.String({ minLength: 1, maxLength: 4 }), { maxItems: 16, description });
  },
  uint64(description: string) {
    return Type.String({ pattern: UINT64_PATTERN, description });
  },
  machineName(description: string) {
    return Type.String({ pattern: SNAKE_CASE_PATTERN, maxLength: 64, description });
  },
  text(description: string, maxLength = 256) {
    return Type.String({ minLength: 1, maxLength, description });
  },
  isoInstant(description: string) {
    return Type.String({ pattern: ISO_INSTANT_PATTERN, description });
  },
  duration(description: string) {
    return Type.String({ pattern: DURATION_PATTERN, description });
  },
  /** A closed set of strings; published as `anyOf` of `const`s, so new values can be added compatibly. */
  oneOf<const T extends readonly string[]>(values: T, description: string): LiteralUnion<T> {
    return Type.Union(
      values.map((value) => Type.Literal(value)),
      { description },
    ) as unknown as LiteralUnion<T>;
  },
  nullable<T extends TSchema>(schema: T, options: SchemaOptions): TUnion<[T, TNull]> {
    return Type.Union([schema, Type.Null()], options);
  },
};
