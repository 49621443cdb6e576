import { Inject, Injectable } from '@nestjs/common';
import { CATALOG, type EventOf, type FieldError, type TopicName, type TopicSpec, validateEvent } from '@tributary/contracts';
import { type EncodedRecord, type OutgoingRecord, TypedProducer } from '@tributary/kafka';
import type { IncomingEvent } from './event-batch';
import { InFlightLimiter } from './in-flight-limiter';
import { namespacedIdempotencyKey } from './ingestion-policy';
import { IngestionMetrics, type Transport } from './ingestion-metrics';
import { INGESTION_OPTIONS, type IngestionOptions } from './request-body-reader';
import { withTimeout } from './with-timeout';

/** Outcome of one event of a request or frame, by its position. */
export type EventResult =
  | { readonly index: number; readonly status: 'accepted'; readonly idempotencyKey?: string }
  | { readonly index: number; readonly status: 'rejected'; readonly errors: readonly FieldError[] };

/** The events of one request or frame, checked: a result per event, and the records to land. */
export interface CheckedEvents {
  readonly results: readonly EventResult[];
  readonly records: readonly OutgoingRecord<EventOf<TopicName>>[];
}

/** Why nothing of a request or frame was landed, when it was not its data. */
export type LandingRefusal =
  | { readonly refused: 'too_large'; readonly message: string }
  | { readonly refused: 'busy'; readonly message: string }
  | { readonly refused: 'unavailable'; readonly message: string };

/**
 * What HTTP requests and WebSocket frames share: each event checked against the stream's catalog
 * schema, and the valid ones handed to the producer under the gateway's one in-flight bound, answered
 * only once the brokers acknowledged them (acks=all) or the acknowledgement timeout passed.
 */
@Injectable()
export class EventLanding {
  constructor(
    private readonly producer: TypedProducer,
    private readonly inFlight: InFlightLimiter,
    @Inject(INGESTION_OPTIONS) private readonly options: IngestionOptions,
    private readonly metrics: IngestionMetrics,
  ) {}

  /** Checks each event; `caller` namespaces the idempotency keys (the answer shows the caller's own keys). */
  check(stream: TopicName, events: readonly IncomingEvent[], transport: Transport, caller: string): CheckedEvents {
    const results: EventResult[] = [];
    const records: OutgoingRecord<EventOf<TopicName>>[] = [];
    let unreadable = 0;
    for (const event of events) {
      if (event.unreadable !== undefined) {
        unreadable += 1;
        results.push({ index: event.index, status: 'rejected', errors: [{ path: '', message: event.unreadable }] });
        continue;
      }
      const checked = validateEvent(stream, event.value);
      if (!checked.ok) {
        results.push({ index: event.index, status: 'rejected', errors: checked.errors });
        continue;
      }
      records.push({ value: checked.value, idempotencyKey: namespacedIdempotencyKey(caller, event.idempotencyKey) });
      results.push({ index: event.index, status: 'accepted', idempotencyKey: event.idempotencyKey });
    }
    this.metrics.rejectedEvents(stream, transport, 'unreadable', unreadable);
    this.metrics.rejectedEvents(stream, transport, 'schema', results.length - records.length - unreadable);
    return { results, records };
  }

  /** Lands the records, or says why none of them was (nothing is sent when refused as too large or busy). */
  async land(stream: TopicName, records: readonly OutgoingRecord<EventOf<TopicName>>[], transport: Transport): Promise<LandingRefusal | undefined> {
    if (records.length === 0) return undefined;
    if (records.length > this.inFlight.capacity) {
      this.metrics.rejectedEvents(stream, transport, 'too_large', records.length);
      return { refused: 'too_large', message: `${records.length} events at once; at most ${this.inFlight.capacity}` };
    }
    if (!this.inFlight.tryAcquire(records.length)) {
      this.metrics.rejectedEvents(stream, transport, 'busy', records.length);
      return { refused: 'busy', message: 'too many events wait for Kafka acknowledgements; nothing was sent: retry later' };
    }
    // The room is given back when the send settles, not at the timeout: events still in the
    // producer count against the bound until Kafka answers.
    const acknowledged = this.metrics.ackTimer(stream);
    // Checked against the catalog above: serialised here and sent without a second check.
    const spec: TopicSpec = CATALOG[stream];
    const encoded = records.map(
      ({ value, idempotencyKey }): EncodedRecord => ({
        key: spec.key(value),
        value: JSON.stringify(value),
        eventTime: spec.eventTime(value),
        idempotencyKey,
      }),
    );
    const sent = this.producer.sendEncoded(spec, encoded).finally(() => this.inFlight.release(records.length));
    try {
      await withTimeout(sent, this.options.ackTimeoutMs);
      acknowledged();
    } catch (error) {
      sent.catch(() => undefined);
      this.metrics.rejectedEvents(stream, transport, 'unavailable', records.length);
      return {
        refused: 'unavailable',
        message: `Kafka did not acknowledge the events (${(error as Error).message}); none is confirmed: resend them with the same idempotency keys`,
      };
    }
    this.metrics.accepted(stream, transport, records.length);
    return undefined;
  }
}
