import type { Value } from './value';

export const keyDescription = 'symbol';

/** Keyed by symbol: all of a symbol's quotes stay in one partition, in order, co-partitioned with market.trades. */
export function key(value: Value): string {
  return value.symbol;
}

export function eventTime(value: Value): string {
  return value.ts;
}
