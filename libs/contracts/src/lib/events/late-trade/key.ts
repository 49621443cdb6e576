import type { Value } from './value';

export const keyDescription = 'symbol';

/** Keyed by symbol, like the trades and candles it comes from. */
export function key(value: Value): string {
  return value.symbol;
}

/** The trade's own event time. */
export function eventTime(value: Value): string {
  return value.ts;
}
