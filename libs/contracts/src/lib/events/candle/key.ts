import type { Value } from './value';

export const keyDescription = 'symbol|windowStart';

/**
 * One key per window, so compaction keeps the latest revision of each candle. The cost: one symbol's
 * candles spread over partitions, so a consumer orders them by windowStart, not by offset.
 */
export function key(value: Value): string {
  return `${value.symbol}|${value.windowStart}`;
}

export function eventTime(value: Value): string {
  return value.ts;
}
