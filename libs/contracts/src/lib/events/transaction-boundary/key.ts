import type { Value } from './value';

export const keyDescription = 'transaction id';

export function key(value: Value): string {
  return value.id;
}

export function eventTime(value: Value): string {
  return (BigInt(value.ts_ms) * 1_000_000n).toString();
}
