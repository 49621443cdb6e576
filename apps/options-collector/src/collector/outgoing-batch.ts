import {
  CATALOG,
  DLQ_HEADERS,
  dlqTopicOf,
  type EventOf,
  formatFieldErrors,
  HEADERS,
  topicSpec,
  type TopicName,
  validateEvent,
} from '@tributary/contracts';
import type { RawRecord, TypedProducer } from '@tributary/kafka';

/** The topics the collector writes. */
export type CollectorTopic =
  'market.quotes' | 'market.trades' | 'options.quotes' | 'options.trades' | 'options.chains' | 'options.flow';

/**
 * Where a batch goes: one or more producers (each its own idempotent Kafka producer with its own
 * connections and requests in flight), every key always on the same one so its records stay in order.
 */
export interface PublishTarget {
  readonly producerId: string;
  readonly producers: readonly TypedProducer[];
  /** Index of the producer a record key (an underlying or stock ticker) goes through. */
  laneOf(key: string): number;
}

interface Part {
  readonly topic: string;
  readonly send: () => Promise<void>;
  readonly count: number;
  readonly deadLetter: boolean;
  sent: boolean;
}

/**
 * What one source batch produces: the valid records per topic (and per producer lane), in the order
 * they came, and the invalid ones bound for `<topic>.dlq`. Sending is all-or-retry per part: a part the
 * brokers acknowledged is never sent again, so retrying after a failure doubles nothing.
 *
 * Records are validated here, once, against their catalog contract (schema and invariants); the
 * producers behind a {@link PublishTarget} are built without validation of their own.
 */
export class OutgoingBatch {
  /** Valid records per topic, one list per producer lane. */
  private readonly valid = new Map<CollectorTopic, unknown[][]>();
  private readonly invalid = new Map<string, RawRecord[]>();
  private readonly validateOptions: { readonly nowMs: number };
  private parts: Part[] | undefined;
  /** Valid records, per topic. */
  readonly counts = new Map<CollectorTopic, number>();
  invalidCount = 0;

  constructor(
    private readonly target: PublishTarget,
    /** Wall clock for the future-event-time check and the dlq.failed.at header. */
    private readonly nowMs: () => number = Date.now,
  ) {
    // One wall-clock reading per batch: the batch is built within milliseconds.
    this.validateOptions = { nowMs: nowMs() };
  }

  /**
   * Validates a record against its topic's contract. Returns the valid value, or undefined when the
   * record was set aside for the DLQ.
   */
  add<T extends CollectorTopic>(topic: T, value: unknown): EventOf<T> | undefined {
    const result = validateEvent(topic, value, this.validateOptions);
    if (!result.ok) {
      this.deadLetter(topic, value, formatFieldErrors(result.errors));
      return undefined;
    }
    const lanes = this.target.producers.length;
    let records = this.valid.get(topic);
    if (!records) {
      records = Array.from({ length: lanes }, () => []);
      this.valid.set(topic, records);
    }
    const lane = lanes === 1 ? 0 : this.target.laneOf(CATALOG[topic].key(result.value as never));
    records[lane].push(result.value);
    this.counts.set(topic, (this.counts.get(topic) ?? 0) + 1);
    return result.value;
  }

  get isEmpty(): boolean {
    return this.valid.size === 0 && this.invalid.size === 0;
  }

  /** Sends every part not yet acknowledged; rejects if any failed (the others stay acknowledged). */
  async send(): Promise<void> {
    this.parts ??= this.buildParts();
    const pending = this.parts.filter((part) => !part.sent);
    const results = await Promise.allSettled(
      pending.map(async (part) => {
        await part.send();
        part.sent = true;
      }),
    );
    const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /** Records not yet acknowledged (what a shutdown during an outage would leave behind). */
  unsentCount(): number {
    const parts = this.parts ?? this.buildParts();
    return parts.reduce((sum, part) => sum + (part.sent ? 0 : part.count), 0);
  }

  /** Invalid records per original topic. */
  invalidByTopic(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [topic, messages] of this.invalid) counts.set(topic, messages.length);
    return counts;
  }

  private deadLetter(topic: string, value: unknown, reason: string): void {
    this.invalidCount++;
    let messages = this.invalid.get(topic);
    if (!messages) {
      messages = [];
      this.invalid.set(topic, messages);
    }
    messages.push(deadLetterMessage(topic, value, reason, this.target.producerId, new Date(this.nowMs())));
  }

  private buildParts(): Part[] {
    const parts: Part[] = [];
    const producers = this.target.producers;
    for (const [topic, lanes] of this.valid) {
      lanes.forEach((records, lane) => {
        if (records.length === 0) return;
        parts.push({
          topic,
          count: records.length,
          deadLetter: false,
          sent: false,
          send: () => producers[lane].send(topic as TopicName, records as never),
        });
      });
    }
    for (const [topic, messages] of this.invalid) {
      const dlq = dlqTopicOf(topic);
      parts.push({
        topic: dlq,
        count: messages.length,
        deadLetter: true,
        sent: false,
        send: () => producers[0].sendRaw(dlq, messages),
      });
    }
    return parts;
  }
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The record the collector would have written, as it was, plus the `dlq.*` headers saying why it was
 * refused. It never reached its topic, so it has no original partition or offset and no handler attempt
 * (`dlq.attempts` 0); `producer` says who refused it.
 */
export function deadLetterMessage(
  topic: string,
  value: unknown,
  reason: string,
  producerId: string,
  failedAt: Date,
): RawRecord {
  const spec = topicSpec(topic);
  const fields = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  let key: string | undefined;
  try {
    key = spec ? textOf(spec.key(fields as never)) : undefined;
  } catch {
    key = undefined;
  }
  const headers: Record<string, string> = {
    [HEADERS.producer]: producerId,
    [DLQ_HEADERS.reason]: reason.length > 4000 ? `${reason.slice(0, 3999)}…` : reason,
    [DLQ_HEADERS.errorType]: 'ValidationError',
    [DLQ_HEADERS.originalTopic]: topic,
    [DLQ_HEADERS.attempts]: '0',
    [DLQ_HEADERS.failedAt]: failedAt.toISOString(),
  };
  if (spec) {
    headers[HEADERS.schemaName] = spec.event;
    headers[HEADERS.schemaVersion] = String(spec.version);
  }
  const eventTime = textOf(fields['ts']);
  if (eventTime !== undefined) headers[HEADERS.eventTime] = eventTime;
  return { key: key ?? null, value: JSON.stringify(value), headers };
}
