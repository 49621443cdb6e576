import type { Value } from './value';

export const keyDescription = 'underlying symbol (the symbol itself for a stock or ETF)';

/**
 * Keyed like the market data (by underlying), so fills can be joined with quotes in event time; one
 * order trades one instrument, so the fills of an order stay in order.
 */
export function key(value: Value): string {
  return value.underlying ?? value.symbol;
}

export function eventTime(value: Value): string {
  return value.ts;
}
