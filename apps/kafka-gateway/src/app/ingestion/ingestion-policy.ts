import { CDC_TOPIC_PREFIX, isDlqTopic } from '@tributary/contracts';

/**
 * Streams the platform writes itself: what the gateway's checks, joins and candles derive, what
 * the collector assembles, what the pattern engine decides, what change capture reads from
 * PostgreSQL, and the dead letters. Accepting them from outside would let a caller skip the quality
 * checks (`market.trades.validated`), forge alerts or rules (`cep.*`) or fake database changes, so no
 * scope lets a caller ingest them.
 */
const PLATFORM_STREAMS: ReadonlySet<string> = new Set([
  'market.trades.validated',
  'options.quotes.enriched',
  'options.chains',
  'options.flow',
  'quality.events',
]);
const PLATFORM_PREFIXES = ['candles.', 'cep.', `${CDC_TOPIC_PREFIX}.`];

/** Why `stream` cannot be ingested through the gateway, or undefined when it can. */
export function ingestionRefusal(stream: string): string | undefined {
  if (isDlqTopic(stream))
    return `${stream} is a dead-letter topic; replay its records with POST /admin/dlq/:topic/replay`;
  if (PLATFORM_STREAMS.has(stream) || PLATFORM_PREFIXES.some((prefix) => stream.startsWith(prefix))) {
    return `${stream} is written by the platform itself and cannot be ingested, whatever the scope`;
  }
  return undefined;
}

/**
 * The idempotency key as it travels in the `idempotency.key` header: prefixed with the caller's
 * name, so one caller's keys never collide with (or suppress as duplicates) another caller's.
 */
export function namespacedIdempotencyKey(caller: string, key: string | undefined): string | undefined {
  return key === undefined ? undefined : `${caller}/${key}`;
}
