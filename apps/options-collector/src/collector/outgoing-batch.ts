import type { Message } from 'kafkajs';
import {
  DLQ_HEADERS,
  dlqTopicOf,
  type EventOf,
  formatFieldErrors,
  HEADERS,
  topicSpec,
  type TopicName,
  validateEvent,
} from '@tributary/contracts';
import type { TypedProducer } from '@tributary/kafka';

/** The topics the collector writes. */
export type CollectorTopic =
  'market.quotes' | 'market.trades' | 'options.quotes' | 'options.trades' | 'options.chains' | 'options.flow';

interface Part {
  readonly topic: string;
  readonly send: (producer: TypedProducer) => Promise<void>;
  readonly count: number;
  readonly deadLetter: boolean;
  sent: boolean;
}

/**
 * What one source batch produces: the valid records per topic, in the order they came, and the invalid
 * ones bound for `<topic>.dlq`. Sending is all-or-retry per topic: a part the brokers acknowledged is
 * never sent again, so retrying after a failure doubles nothing.
 */
export class OutgoingBatch {
  private readonly valid = new Map<CollectorTopic, unknown[]>();
  private readonly invalid = new Map<string, Message[]>();
  private parts: Part[] | undefined;
  /** Valid records, per topic. */
  readonly counts = new Map<CollectorTopic, number>();
  invalidCount = 0;

  constructor(
    private readonly producerId: string,
    /** Wall clock for the future-event-time check and the dlq.failed.at header. */
    private readonly nowMs: () => number = Date.now,
  ) {}

  /**
   * Validates a record against its topic's contract. Returns the valid value, or undefined when the
   * record was set aside for the DLQ.
   */
  add<T extends CollectorTopic>(topic: T, value: unknown): EventOf<T> | undefined {
    const result = validateEvent(topic, value, { nowMs: this.nowMs() });
    if (!result.ok) {
      this.deadLetter(topic, value, formatFieldErrors(result.errors));
      return undefined;
    }
    let records = this.valid.get(topic);
    if (!records) {
      records = [];
      this.valid.set(topic, records);
    }
    records.push(result.value);
    this.counts.set(topic, (this.counts.get(topic) ?? 0) + 1);
    return result.value;
  }

  get isEmpty(): boolean {
    return this.valid.size === 0 && this.invalid.size === 0;
  }

  /** Sends every part not yet acknowledged; rejects if any failed (the others stay acknowledged). */
  async send(producer: TypedProducer): Promise<void> {
    this.parts ??= this.buildParts();
    const pending = this.parts.filter((part) => !part.sent);
    const results = await Promise.allSettled(
      pending.map(async (part) => {
        await part.send(producer);
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
    messages.push(deadLetterMessage(topic, value, reason, this.producerId, new Date(this.nowMs())));
  }

  private buildParts(): Part[] {
    const parts: Part[] = [];
    for (const [topic, records] of this.valid) {
      parts.push({
        topic,
        count: records.length,
        deadLetter: false,
        sent: false,
        send: (producer) => producer.send(topic as TopicName, records as never),
      });
    }
    for (const [topic, messages] of this.invalid) {
      const dlq = dlqTopicOf(topic);
      parts.push({
        topic: dlq,
        count: messages.length,
        deadLetter: true,
        sent: false,
        send: (producer) => producer.sendRaw(dlq, messages),
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
): Message {
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
