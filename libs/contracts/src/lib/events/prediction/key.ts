import type { Value } from './value';

export const keyDescription = 'symbol';

export function key(value: Value): string {
  return value.symbol;
}

export function eventTime(value: Value): string {
  return value.ts;
}
