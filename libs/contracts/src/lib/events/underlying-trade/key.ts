import type { Value } from './value';

export const keyDescription = 'symbol';

/** Keyed by symbol, co-partitioned with market.quotes for event-time joins. */
export function key(value: Value): string {
  return value.symbol;
}

export function eventTime(value: Value): string {
  return value.ts;
}
