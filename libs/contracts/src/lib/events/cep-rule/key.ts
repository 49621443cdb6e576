import type { Value } from './value';

export const keyDescription = 'rule id (compaction keeps the latest version of each rule)';

/** Keyed by the rule id: the compacted topic holds the current definition of every rule. */
export function key(value: Value): string {
  return value.id;
}

export function eventTime(value: Value): string {
  return value.ts;
}
