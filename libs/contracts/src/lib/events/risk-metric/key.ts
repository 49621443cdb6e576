import type { Value } from './value';

export const keyDescription = 'account';

/** Keyed by account: a risk consumer sees each account's metrics in order. */
export function key(value: Value): string {
  return value.account;
}

export function eventTime(value: Value): string {
  return value.ts;
}
