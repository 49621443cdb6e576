import type { Value } from './value';

export const keyDescription = 'underlying symbol';

/**
 * Keyed by the underlying, not the contract: options.* then share partitions with market.* (same key,
 * same partition count), so an event-time join of a contract with its underlying needs no repartition.
 * One contract has one underlying, so each contract's quotes still stay in order.
 */
export function key(value: Value): string {
  return value.underlying;
}

export function eventTime(value: Value): string {
  return value.ts;
}
