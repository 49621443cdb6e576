import type { Value } from './value';

export const keyDescription = 'symbol, or the source topic for a record without one';

/** One symbol's findings stay in order in one partition. */
export function key(value: Value): string {
  return value.symbol ?? value.source.topic;
}

/** Event time of the record the finding is about. */
export function eventTime(value: Value): string {
  return value.ts;
}
