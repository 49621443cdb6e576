import type { Value } from './value';

export const keyDescription = 'symbol';

/** Keyed by symbol: a book's snapshot and its deltas must be applied in order, so they share a partition. */
export function key(value: Value): string {
  return value.symbol;
}

export function eventTime(value: Value): string {
  return value.ts;
}
