import { INGESTED_TOPICS, isDlqTopic } from '@tributary/contracts';

/**
 * The streams outside feeds may write through the gateway: `INGESTED_TOPICS` of the services' Kafka
 * access (libs/contracts), the same list the gateway's Kafka user is allowed to write. Everything
 * else the platform writes itself (what the gateway's checks, joins and candles derive, what the
 * collector assembles, what the pattern engine decides, what change capture reads from PostgreSQL)
 * or is a dead letter; accepting those from outside would let a caller skip the quality checks
 * (`market.trades.validated`), forge alerts or rules (`cep.*`) or fake database changes, so no
 * scope lets a caller ingest them.
 */
const INGESTIBLE: ReadonlySet<string> = new Set(INGESTED_TOPICS);

/** Why `stream` cannot be ingested through the gateway, or undefined when it can. */
export function ingestionRefusal(stream: string): string | undefined {
  if (INGESTIBLE.has(stream)) return undefined;
  if (isDlqTopic(stream)) return `${stream} is a dead-letter topic; replay its records with POST /admin/dlq/:topic/replay`;
  return `${stream} is written by the platform itself and cannot be ingested, whatever the scope`;
}

/**
 * The idempotency key as it travels in the `idempotency.key` header: prefixed with the caller's
 * name, so one caller's keys never collide with (or suppress as duplicates) another caller's.
 */
export function namespacedIdempotencyKey(caller: string, key: string | undefined): string | undefined {
  return key === undefined ? undefined : `${caller}/${key}`;
}
