/**
 * Kafka header names carried by every Tributary message. Values are UTF-8 strings.
 * Consumers in other languages read them by these exact names.
 */
export const HEADERS = {
  /** Version of the value schema the producer wrote (an integer, e.g. "1"). */
  schemaVersion: 'schema.version',
  /** Name of the event schema, e.g. "OptionQuote". */
  schemaName: 'schema.name',
  /** Event time of the record: epoch nanoseconds, UTC, decimal. */
  eventTime: 'event.time',
  /** Service and instance that produced the record, e.g. "options-collector/pod-7f9c". */
  producer: 'producer',
  /** Correlation ID of the request or upstream record this one descends from. */
  correlationId: 'correlation.id',
  /** Stable identity of the event, so downstream consumers can drop redeliveries. */
  idempotencyKey: 'idempotency.key',
} as const;

/** Extra headers on a record in a `<topic>.dlq` topic, next to the original record's own headers. */
export const DLQ_HEADERS = {
  /** Human-readable reason the record was rejected (error message or validation errors). */
  reason: 'dlq.reason',
  /** Class of the error, e.g. "ValidationError", "HandlerError". */
  errorType: 'dlq.error.type',
  originalTopic: 'dlq.original.topic',
  originalPartition: 'dlq.original.partition',
  originalOffset: 'dlq.original.offset',
  /** How many times the handler was tried before the record was sent here. */
  attempts: 'dlq.attempts',
  /** Consumer group that gave up on the record. */
  consumerGroup: 'dlq.consumer.group',
  /** When the record was dead-lettered: ISO-8601 UTC. */
  failedAt: 'dlq.failed.at',
} as const;

export type HeaderName = (typeof HEADERS)[keyof typeof HEADERS];

export const DLQ_SUFFIX = '.dlq';

/** The dead-letter topic of a topic. */
export function dlqTopicOf(topic: string): string {
  return `${topic}${DLQ_SUFFIX}`;
}
