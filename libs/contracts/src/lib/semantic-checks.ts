import { isoOfNanos, millisOfNanos } from './event-time';
import type { FieldError, ValidationContext } from './field-error';

/**
 * Event times before this are refused: they are almost always seconds, milliseconds or microseconds
 * written where nanoseconds were expected (1.7e12 ms read as ns is 1970-01-01T00:28).
 */
export const MIN_EVENT_TIME_MS = Date.UTC(1990, 0, 1);

function describeSkew(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${Math.round(ms / 86_400_000)} days`;
}

/** Refuses an epoch-nanosecond time that is implausibly old (wrong unit) or in the future beyond clock skew. */
export function eventTimeErrors(
  ns: string,
  path: string,
  context: ValidationContext,
  errors: FieldError[],
): void {
  const ms = millisOfNanos(ns);
  if (ms < MIN_EVENT_TIME_MS) {
    errors.push({
      path,
      message: `${ns} is before 1990 (${isoOfNanos(ns)}): expected epoch nanoseconds, not seconds, milliseconds or microseconds`,
    });
  } else if (ms > context.nowMs + context.maxFutureSkewMs) {
    errors.push({
      path,
      message: `${isoOfNanos(ns)} is ${describeSkew(ms - context.nowMs)} in the future (at most ${describeSkew(context.maxFutureSkewMs)} of clock skew is allowed)`,
    });
  }
}

/** Same as eventTimeErrors for times in epoch milliseconds (Debezium's ts_ms). */
export function epochMillisErrors(
  ms: number,
  path: string,
  context: ValidationContext,
  errors: FieldError[],
): void {
  if (ms < MIN_EVENT_TIME_MS) {
    errors.push({ path, message: `${ms} is before 1990: expected epoch milliseconds` });
  } else if (ms > context.nowMs + context.maxFutureSkewMs) {
    errors.push({
      path,
      message: `${new Date(ms).toISOString()} is ${describeSkew(ms - context.nowMs)} in the future (at most ${describeSkew(context.maxFutureSkewMs)} of clock skew is allowed)`,
    });
  }
}

/**
 * A quote whose ask is below its bid is crossed: a feed error, not a market. A side with price 0 or
 * size 0 is absent and not compared; a locked quote (ask == bid) is accepted.
 */
export function crossedQuoteErrors(
  quote: { bidPrice: number; bidSize: number; askPrice: number; askSize: number },
  prefix: string,
  errors: FieldError[],
): void {
  const bothSides = quote.bidPrice > 0 && quote.askPrice > 0 && quote.bidSize > 0 && quote.askSize > 0;
  if (bothSides && quote.askPrice < quote.bidPrice) {
    errors.push({
      path: `${prefix}/askPrice`,
      message: `crossed quote: ask ${quote.askPrice} is below bid ${quote.bidPrice}`,
    });
  }
}

/** Invariants of an event whose only rule beyond its schema is a plausible event time in `ts`. */
export function eventTimeInvariants(value: { readonly ts: string }, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  eventTimeErrors(value.ts, '/ts', context, errors);
  return errors;
}
