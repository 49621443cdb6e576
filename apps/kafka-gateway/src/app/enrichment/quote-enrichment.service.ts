import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { dlqTopicOf, type EnrichedOptionQuote, type OptionQuote, type UnderlyingQuote, validateEvent } from '@tributary/contracts';
import { CoPartitionAssigner, deadLetterHeaders, KAFKA_CLIENT, KAFKA_LOGGER, type OutgoingRecord, TypedProducer } from '@tributary/kafka';
import { TributaryMetrics } from '@tributary/observability';
import { QuoteEnricher } from './quote-enricher';

export const ENRICHMENT_OPTIONS = Symbol('ENRICHMENT_OPTIONS');

export interface EnrichmentOptions {
  readonly enabled: boolean;
  readonly groupId: string;
  /** Where a new group starts reading: the retained history (true) or new quotes only. */
  readonly fromBeginning: boolean;
  readonly outOfOrdernessMs: number;
  readonly maxUnderlyingAgeMs: number;
  /** Processing time an option quote waits for its underlying price before it goes with what is known. */
  readonly maxWaitMs: number;
  /** Option quotes held across all partitions; beyond it the oldest go at once. */
  readonly maxWaiting: number;
}

const OPTIONS_TOPIC = 'options.quotes';
const UNDERLYING_TOPIC = 'market.quotes';
const OUTPUT_TOPIC = 'options.quotes.enriched';
const TICK_MS = 100;

/**
 * Runs the {@link QuoteEnricher} on Kafka: one consumer group over `options.quotes` and `market.quotes`
 * with the co-partitioned assignor (partition N of both topics on the same instance), enriched quotes to
 * `options.quotes.enriched` with acks=all, and offsets committed only behind what is durable: the
 * oldest option quote not yet produced and the oldest underlying price still needed, so a restart
 * rebuilds the same state and re-emits at most the quotes in flight (same `idempotency.key`:
 * `<partition>:<offset>` of the option quote). Records that fail their schema go to `<topic>.dlq`.
 */
@Injectable()
export class QuoteEnrichment implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly enricher: QuoteEnricher;
  private consumer?: Consumer;
  private timer?: NodeJS.Timeout;
  /** Releases, sends and commits run one at a time (batches and the idle timer both trigger them). */
  private flushing: Promise<void> = Promise.resolve();
  private readonly enriched: Counter<'joined'>;
  private readonly waitingGauge: Gauge;
  private readonly invalid: Counter<'topic'>;

  constructor(
    @Inject(ENRICHMENT_OPTIONS) private readonly options: EnrichmentOptions,
    @Inject(KAFKA_CLIENT) private readonly kafka: Kafka,
    @Inject(KAFKA_LOGGER) private readonly logger: Logger,
    private readonly producer: TypedProducer,
    metrics: TributaryMetrics,
  ) {
    this.enricher = new QuoteEnricher({
      outOfOrdernessNs: BigInt(options.outOfOrdernessMs) * 1_000_000n,
      maxUnderlyingAgeNs: BigInt(options.maxUnderlyingAgeMs) * 1_000_000n,
    });
    this.enriched = new Counter({
      name: 'tributary_gateway_enriched_quotes_total',
      help: 'Option quotes enriched, by whether an underlying price was found (joined="true") or not',
      labelNames: ['joined'],
      registers: [metrics.registry],
    });
    this.waitingGauge = new Gauge({
      name: 'tributary_gateway_enrichment_waiting_quotes',
      help: 'Option quotes waiting for the underlying price at their event time to become final',
      registers: [metrics.registry],
    });
    this.invalid = new Counter({
      name: 'tributary_gateway_enrichment_invalid_total',
      help: 'Input records of the enrichment that failed their schema and went to the DLQ',
      labelNames: ['topic'],
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    if (!this.options.enabled) return;
    void this.start().catch((error: unknown) => this.logger.error({ err: error }, 'quote enrichment could not start'));
  }

  private async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      partitionAssigners: [CoPartitionAssigner],
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const owned = new Set(payload.memberAssignment[OPTIONS_TOPIC] ?? []);
      for (const partition of payload.memberAssignment[UNDERLYING_TOPIC] ?? []) owned.add(partition);
      this.forgetExcept(owned);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [OPTIONS_TOPIC, UNDERLYING_TOPIC], fromBeginning: this.options.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.onBatch(payload),
    });
    this.timer = setInterval(() => void this.flush(false).catch((error: unknown) => this.logger.warn({ err: error }, 'enrichment flush failed; retried')), TICK_MS);
    this.logger.info({ groupId: this.options.groupId }, 'quote enrichment started');
  }

  private forgetExcept(owned: ReadonlySet<number>): void {
    const stale = this.enricher.commitPositions().map((p) => p.partition).filter((p) => !owned.has(p));
    this.enricher.forget(stale);
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const invalid: KafkaMessage[] = [];
    const now = Date.now();
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) return;
      const position = { partition: batch.partition, offset: message.offset };
      const value = parse(message.value);
      const checked = validateEvent(batch.topic, value);
      if (!checked.ok) {
        invalid.push(message);
        this.invalid.inc({ topic: batch.topic });
        const errors = checked.errors.map((e) => `${e.path || '/'}: ${e.message}`).join('; ');
        await this.producer.sendRaw(dlqTopicOf(batch.topic), [
          {
            key: message.key,
            value: message.value,
            headers: deadLetterHeaders(message.headers, {
              reason: errors,
              errorType: 'ValidationError',
              topic: batch.topic,
              partition: batch.partition,
              offset: message.offset,
              attempts: 0,
              consumerGroup: this.options.groupId,
              failedAt: new Date(),
            }),
          },
        ]);
      } else if (batch.topic === OPTIONS_TOPIC) {
        this.enricher.addOption(position, checked.value as OptionQuote.Value, now);
      } else {
        this.enricher.addUnderlying(position, checked.value as UnderlyingQuote.Value);
      }
      resolveOffset(message.offset);
    }
    await this.flush(false);
    await heartbeat();
  }

  /** Produces what the join released and commits behind it. */
  private flush(force: boolean): Promise<void> {
    const run = this.flushing.then(async () => {
      const consumer = this.consumer;
      if (consumer === undefined) return;
      const tooMany = this.enricher.waiting() > this.options.maxWaiting;
      const released = this.enricher.release(Date.now(), this.options.maxWaitMs, force || tooMany);
      this.waitingGauge.set(this.enricher.waiting());
      if (released.length > 0) {
        const records: OutgoingRecord<EnrichedOptionQuote.Value>[] = released.map(({ enriched, partition, offset }) => ({
          value: enriched,
          idempotencyKey: `${OPTIONS_TOPIC}:${partition}:${offset}`,
        }));
        await this.producer.send(OUTPUT_TOPIC, records);
        let joined = 0;
        for (const { enriched } of released) if (enriched.underlyingPrice !== null) joined += 1;
        this.enriched.inc({ joined: 'true' }, joined);
        this.enriched.inc({ joined: 'false' }, released.length - joined);
      }
      const offsets = this.enricher.commitPositions().flatMap(({ partition, options, underlying }) => [
        ...(options === undefined ? [] : [{ topic: OPTIONS_TOPIC, partition, offset: options }]),
        ...(underlying === undefined ? [] : [{ topic: UNDERLYING_TOPIC, partition, offset: underlying }]),
      ]);
      if (offsets.length > 0) await consumer.commitOffsets(offsets);
    });
    // A failed flush leaves the quotes waiting and the offsets where they were; the next one retries.
    this.flushing = run.catch(() => undefined);
    return run;
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    const consumer = this.consumer;
    if (consumer === undefined) return;
    await consumer.stop().catch(() => undefined);
    await this.flush(true).catch((error: unknown) => this.logger.warn({ err: error }, 'enrichment could not flush on shutdown; the waiting quotes are read again on restart'));
    this.consumer = undefined;
    await consumer.disconnect().catch(() => undefined);
  }
}

function parse(value: Buffer | null): unknown {
  if (value === null) return null;
  try {
    return JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
}
