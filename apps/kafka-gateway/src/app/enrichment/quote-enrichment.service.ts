import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { dlqTopicOf, type EnrichedOptionQuote, type OptionQuote, type UnderlyingQuote, validateEvent } from '@tributary/contracts';
import {
  type Assignment,
  deadLetterHeaders,
  headersFromPairs,
  KAFKA_CONNECTION,
  KAFKA_LOGGER,
  type KafkaConnection,
  ManagedConsumer,
  type OutgoingRecord,
  type PartitionBatch,
  TypedProducer,
} from '@tributary/kafka';
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
 * ({@link ManagedConsumer} with the range assignor, which gives partition N of both topics to the same
 * instance as they have the same partition count), enriched quotes to
 * `options.quotes.enriched` with acks=all, and offsets committed only behind what is durable: the
 * oldest option quote not yet produced and the oldest underlying price still needed, so a restart
 * rebuilds the same state and re-emits at most the quotes in flight (same `idempotency.key`:
 * `<partition>:<offset>` of the option quote). Records that fail their schema go to `<topic>.dlq`.
 */
@Injectable()
export class QuoteEnrichment implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly enricher: QuoteEnricher;
  private consumer?: ManagedConsumer;
  private stopping = false;
  private timer?: NodeJS.Timeout;
  /** Releases, sends and commits run one at a time (batches and the idle timer both trigger them). */
  private flushing: Promise<void> = Promise.resolve();
  private readonly enriched: Counter<'joined'>;
  private readonly waitingGauge: Gauge;
  private readonly invalid: Counter<'topic'>;

  constructor(
    @Inject(ENRICHMENT_OPTIONS) private readonly options: EnrichmentOptions,
    @Inject(KAFKA_CONNECTION) private readonly connection: KafkaConnection,
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
    const consumer = new ManagedConsumer(this.connection, {
      groupId: this.options.groupId,
      topics: [OPTIONS_TOPIC, UNDERLYING_TOPIC],
      fromBeginning: this.options.fromBeginning,
      maxWaitMs: 100,
      // Offsets are committed behind the quotes still waiting and the prices still needed (flush).
      autoCommit: false,
      logger: this.logger,
      handle: (batch) => this.onBatch(batch),
      onAssigned: (assignment) => this.forgetExcept(assignment),
      // Still a member here: commit behind what is waiting (on shutdown, release it all first).
      onRevoked: () =>
        this.flush(this.stopping).catch((error: unknown) =>
          this.logger.warn({ err: error }, 'enrichment could not flush before giving partitions up; their quotes are read again'),
        ),
    });
    this.consumer = consumer;
    await consumer.start();
    this.timer = setInterval(() => void this.flush(false).catch((error: unknown) => this.logger.warn({ err: error }, 'enrichment flush failed; retried')), TICK_MS);
    this.logger.info({ groupId: this.options.groupId }, 'quote enrichment started');
  }

  /** Forgets the partitions a rebalance took away; their next owner rebuilds them from the commits. */
  private forgetExcept(assignment: Assignment): void {
    const owned = new Set([...(assignment.get(OPTIONS_TOPIC) ?? []), ...(assignment.get(UNDERLYING_TOPIC) ?? [])]);
    const stale = this.enricher.commitPositions().map((p) => p.partition).filter((p) => !owned.has(p));
    this.enricher.forget(stale);
  }

  private async onBatch(batch: PartitionBatch): Promise<void> {
    const now = Date.now();
    for (const record of batch.records) {
      const position = { partition: batch.partition, offset: String(record.offset) };
      const value = parse(record.value);
      const checked = validateEvent(batch.topic, value);
      if (!checked.ok) {
        this.invalid.inc({ topic: batch.topic });
        const errors = checked.errors.map((e) => `${e.path || '/'}: ${e.message}`).join('; ');
        await this.producer.sendRaw(dlqTopicOf(batch.topic), [
          {
            key: record.key,
            value: record.value,
            headers: deadLetterHeaders(headersFromPairs(record.headers), {
              reason: errors,
              errorType: 'ValidationError',
              topic: batch.topic,
              partition: batch.partition,
              offset: String(record.offset),
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
    }
    await this.flush(false);
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
        ...(options === undefined ? [] : [{ topic: OPTIONS_TOPIC, partition, offset: BigInt(options) }]),
        ...(underlying === undefined ? [] : [{ topic: UNDERLYING_TOPIC, partition, offset: BigInt(underlying) }]),
      ]);
      if (offsets.length > 0) await consumer.commit(offsets);
    });
    // A failed flush leaves the quotes waiting and the offsets where they were; the next one retries.
    this.flushing = run.catch(() => undefined);
    return run;
  }

  async onModuleDestroy(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    const consumer = this.consumer;
    if (consumer === undefined) return;
    // Stopping finishes the batch in flight, then flushes everything and commits (onRevoked), then leaves.
    this.stopping = true;
    await consumer.stop().catch((error: unknown) => this.logger.warn({ err: error }, 'the enrichment consumer did not stop cleanly'));
    this.consumer = undefined;
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
