import type { Value } from './value';

export const keyDescription = 'primary symbol (symbols[0])';

/** Keyed by the primary symbol so sentiment is co-partitioned with that symbol's prices for event-time joins. */
export function key(value: Value): string {
  return value.symbols[0];
}

export function eventTime(value: Value): string {
  return value.ts;
}
