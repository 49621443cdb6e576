import type { Value } from './value';

export const keyDescription = 'underlying symbol';

/** Keyed by the underlying, co-partitioned with market.* and the other options.* topics. */
export function key(value: Value): string {
  return value.underlying;
}

export function eventTime(value: Value): string {
  return value.ts;
}
