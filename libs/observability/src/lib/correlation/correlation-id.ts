import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * The correlation ID of the unit of work in progress (an HTTP request, a Kafka message or
 * batch, a scheduled job). It follows the work through every `await`, timer and callback, so
 * log lines and produced messages carry it without being passed around by hand.
 */
const correlationStore = new AsyncLocalStorage<string>();

/** A new correlation ID (a random UUID). */
export function newCorrelationId(): string {
  return randomUUID();
}

/**
 * Runs `fn` with `id` as the current correlation ID (a new one when `id` is undefined or
 * empty) and returns what `fn` returns; an async `fn` keeps the ID until its promise settles.
 */
export function runWithCorrelationId<T>(id: string | undefined, fn: () => T): T {
  return correlationStore.run(id || newCorrelationId(), fn);
}

/** The correlation ID of the current unit of work, or undefined outside of one. */
export function currentCorrelationId(): string | undefined {
  return correlationStore.getStore();
}
