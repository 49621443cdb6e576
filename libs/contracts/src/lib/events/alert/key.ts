import type { Value } from './value';

export const keyDescription = 'pattern key (usually the underlying symbol)';

/** Keyed by the key the pattern ran per, so one symbol's alerts stay in order. */
export function key(value: Value): string {
  return value.key;
}

export function eventTime(value: Value): string {
  return value.ts;
}
