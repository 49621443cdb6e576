import type { Value } from './value';

export const keyDescription = 'underlying symbol';

/** Keyed by the underlying, like the option quotes it enriches (same partition number as its inputs). */
export function key(value: Value): string {
  return value.underlying;
}

export function eventTime(value: Value): string {
  return value.ts;
}
