import { nanosFromIso } from '../../event-time';
import type { Value } from './value';

export const keyDescription = "the original record's key, unchanged";

/** A dead-lettered record keeps its original key (an empty key when it had none). */
export function key(value: Value): string {
  return value.key ?? '';
}

/** When the record was dead-lettered; the original event time is in its event.time header. */
export function eventTime(value: Value): string {
  return nanosFromIso(value.failedAt);
}
