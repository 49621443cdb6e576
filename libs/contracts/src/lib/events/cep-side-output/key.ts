import type { Value } from './value';

export const keyDescription = 'pattern key (usually the underlying symbol)';

/** Keyed like the alerts, so one key's side outputs stay in order. */
export function key(value: Value): string {
  return value.key;
}

export function eventTime(value: Value): string {
  return value.ts;
}
