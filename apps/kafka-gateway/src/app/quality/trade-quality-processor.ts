import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy, Optional } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import {
  CATALOG,
  dlqTopicOf,
  HEADERS,
  nanosFromIso,
  type QualityFinding,
  type TopicSpec,
  type UnderlyingTrade,
} from '@tributary/contracts';
import {
  type DeadLetterFailure,
  deadLetterHeaders,
  KAFKA_BATCH_HANDLER,
  KAFKA_CONNECTION,
  KAFKA_LOGGER,
  type KafkaBatchContext,
  KafkaBatchServer,
  type KafkaConnection,
  type KafkaEnvConfig,
  type OutgoingRecord,
  type RawRecord,
  TypedProducer,
} from '@tributary/kafka';
import { TributaryMetrics } from '@tributary/observability';
import {
  DuplicateFilter,
  durationText,
  fingerprintOf,
  GapDetector,
  millisOf,
  type OutlierOptions,
  PriceOutlierDetector,
  type RecordPosition,
} from './quality-checks';

export const TRADE_QUALITY_OPTIONS = Symbol('kafka-gateway.tradeQualityOptions');

export interface TradeQualityOptions {
  /** Off: no quality processing (and no validated topic). */
  readonly enabled: boolean;
  /** Consumer group of the processor (its own, so it commits independently of the candles). */
  readonly groupId: string;
  /** Raw trades; default market.trades. Its schema-failing records and outliers go to `<sourceTopic>.dlq`. */
  readonly sourceTopic: string;
  /** Where clean trades go; default market.trades.validated. */
  readonly validatedTopic: string;
  /** Where findings go; default quality.events. */
  readonly findingsTopic: string;
  readonly dedupWindowMs: number;
  readonly dedupMaxEntries: number;
  readonly outlier: OutlierOptions;
  readonly gapGranularitiesMs: readonly number[];
  /** Where a new consumer group starts: the earliest retained trade, or only new ones. */
  readonly fromBeginning?: boolean;
  /** Consumer settings (retries, validation) of the service. */
  readonly kafkaConfig?: KafkaEnvConfig;
}

/** What was decided for one record, kept until its offset is committed so a retried batch decides the same. */
type Decision =
  | { readonly kind: 'validated'; readonly fingerprint: string; readonly findings: QualityFinding.Value[] }
  | { readonly kind: 'duplicate'; readonly findings: QualityFinding.Value[] }
  | { readonly kind: 'outlier'; readonly reason: string; readonly findings: QualityFinding.Value[] };

/** Decisions remembered for uncommitted records at most; beyond it a retry decides again. */
const MAX_PENDING_DECISIONS = 200_000;

/**
 * The data quality stream processor of trades. A consumer group of its own reads `market.trades`
 * (records failing the catalog schema, future timestamps included, go to `market.trades.dlq` in
 * the consumer transport) and per record, in offset order:
 *
 * 1. duplicates (same fingerprint within the window, at another offset) are dropped;
 * 2. price outliers are dead-lettered to `market.trades.dlq` with the reason in `dlq.reason`;
 * 3. gaps before the record are reported, the record passes;
 * 4. the rest goes to `market.trades.validated`, its fingerprint as the idempotency key.
 *
 * Every finding is an event on `quality.events`. Offsets are committed after all of a batch's
 * writes were acknowledged, so a crash redelivers (validated records again, with the same
 * idempotency key) and loses nothing. The checks' memory is per process: after a restart the
 * windows fill again.
 */
@Injectable()
export class TradeQualityProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: Logger;
  private readonly duplicates: DuplicateFilter;
  private readonly outliers: PriceOutlierDetector;
  private readonly gaps: GapDetector;
  private readonly validatedSpec: TopicSpec<typeof CATALOG['market.trades.validated']['schema']>;
  private readonly findingsSpec: TopicSpec<typeof CATALOG['quality.events']['schema']>;
  private readonly sourceSpec: TopicSpec;
  private readonly deadLetterTopic: string;
  private readonly pending = new Map<number, Map<string, Decision>>();
  private pendingCount = 0;
  private server?: KafkaBatchServer;
  private readonly records: Counter<'outcome'>;
  private readonly findingsCount: Counter<'check' | 'granularity'>;

  constructor(
    @Inject(KAFKA_CONNECTION) private readonly connection: KafkaConnection,
    private readonly producer: TypedProducer,
    @Inject(KAFKA_LOGGER) logger: Logger,
    @Inject(TRADE_QUALITY_OPTIONS) private readonly options: TradeQualityOptions,
    @Optional() private readonly metrics?: TributaryMetrics,
  ) {
    this.log = logger.child({ component: 'trade-quality', groupId: options.groupId });
    this.duplicates = new DuplicateFilter({ windowMs: options.dedupWindowMs, maxEntries: options.dedupMaxEntries });
    this.outliers = new PriceOutlierDetector(options.outlier);
    this.gaps = new GapDetector({ granularitiesMs: options.gapGranularitiesMs, maxSymbols: options.outlier.maxSymbols });
    this.sourceSpec = { ...CATALOG['market.trades'], topic: options.sourceTopic };
    this.validatedSpec = { ...CATALOG['market.trades.validated'], topic: options.validatedTopic };
    this.findingsSpec = { ...CATALOG['quality.events'], topic: options.findingsTopic };
    this.deadLetterTopic = dlqTopicOf(options.sourceTopic);
    const registry = metrics?.registry ?? new Registry();
    this.records =
      (registry.getSingleMetric('tributary_quality_records_total') as Counter<'outcome'> | undefined) ??
      new Counter({
        name: 'tributary_quality_records_total',
        help: 'Trades through the quality checks, by outcome: validated, duplicate (dropped) or outlier (dead-lettered)',
        labelNames: ['outcome'],
        registers: [registry],
      });
    this.findingsCount =
      (registry.getSingleMetric('tributary_quality_findings_total') as Counter<'check' | 'granularity'> | undefined) ??
      new Counter({
        name: 'tributary_quality_findings_total',
        help: 'Quality findings by check (schema, duplicate, outlier, gap) and, for gaps, granularity',
        labelNames: ['check', 'granularity'],
        registers: [registry],
      });
  }

  onApplicationBootstrap(): Promise<void> | void {
    if (!this.options.enabled) {
      this.log.info('data quality processor disabled (GATEWAY_QUALITY_ENABLED=false)');
      return;
    }
    return this.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.server?.close();
  }

  /** The consumer transport underneath (health, readiness in tests). */
  get consumer(): KafkaBatchServer | undefined {
    return this.server;
  }

  private async start(): Promise<void> {
    const server = new KafkaBatchServer({
      service: 'kafka-gateway',
      groupId: this.options.groupId,
      connection: this.connection,
      config: this.options.kafkaConfig,
      topicSpecs: [this.sourceSpec],
      metrics: this.metrics,
      logger: this.log,
      partitionsConsumedConcurrently: 1,
      fromBeginning: this.options.fromBeginning ?? false,
    });
    server.addHandler(
      this.options.sourceTopic,
      async (values: unknown, context: unknown) => this.handle(values as UnderlyingTrade.Value[], context as KafkaBatchContext),
      true,
      { [KAFKA_BATCH_HANDLER]: true },
    );
    server.on('dead-letter', (failure) => this.onDeadLetter(failure));
    server.on('batch', (batch) => this.forget(batch.partition, batch.lastOffset));
    this.server = server;
    await new Promise<void>((resolve, reject) => server.listen((error?: unknown) => (error ? reject(error) : resolve())));
  }

  /** One batch of one partition, in offset order; resolves once every write is acknowledged. */
  async handle(values: readonly UnderlyingTrade.Value[], context: KafkaBatchContext): Promise<void> {
    const validated: OutgoingRecord<UnderlyingTrade.Value>[] = [];
    const deadLetters: RawRecord[] = [];
    const findings: QualityFinding.Value[] = [];
    for (let index = 0; index < values.length; index++) {
      const value = values[index];
      const record = context.record(index);
      const position = { partition: context.partition, offset: record.offset };
      const decision = this.decide(value, position, record.header(HEADERS.idempotencyKey));
      findings.push(...decision.findings);
      if (decision.kind === 'validated') {
        validated.push({ value, idempotencyKey: decision.fingerprint, correlationId: record.header(HEADERS.correlationId) });
      } else if (decision.kind === 'outlier') {
        const failure: DeadLetterFailure = {
          reason: decision.reason,
          errorType: 'PriceOutlier',
          topic: context.topic,
          partition: context.partition,
          offset: record.offset,
          attempts: 0,
          consumerGroup: this.options.groupId,
          failedAt: new Date(),
        };
        deadLetters.push({
          key: record.raw.key,
          value: record.raw.value,
          headers: deadLetterHeaders(record.raw.headers, failure),
        });
      }
    }
    const writes: Promise<void>[] = [];
    if (validated.length > 0) writes.push(this.producer.sendTo(this.validatedSpec, validated));
    if (deadLetters.length > 0) writes.push(this.producer.sendRaw(this.deadLetterTopic, deadLetters, 'zstd'));
    if (findings.length > 0) {
      writes.push(this.producer.sendTo(this.findingsSpec, findings.map((finding) => ({ value: finding, idempotencyKey: finding.findingId }))));
    }
    await Promise.all(writes);
  }

  private decide(value: UnderlyingTrade.Value, position: RecordPosition, idempotencyKey: string | undefined): Decision {
    let decisions = this.pending.get(position.partition);
    const known = decisions?.get(position.offset);
    if (known !== undefined) return known;
    const decision = this.check(value, position, idempotencyKey);
    this.count(decision);
    if (decisions === undefined) this.pending.set(position.partition, (decisions = new Map()));
    if (this.pendingCount >= MAX_PENDING_DECISIONS) {
      this.pending.clear();
      this.pendingCount = 0;
      this.pending.set(position.partition, (decisions = new Map()));
    }
    decisions.set(position.offset, decision);
    this.pendingCount++;
    return decision;
  }

  private check(value: UnderlyingTrade.Value, position: RecordPosition, idempotencyKey: string | undefined): Decision {
    const source = { topic: this.options.sourceTopic, partition: position.partition, offset: position.offset };
    const at = `${source.topic}:${source.partition}:${source.offset}`;
    const eventTimeMs = millisOf(value.ts);
    const fingerprint = fingerprintOf(value, idempotencyKey);
    const firstSeen = this.duplicates.check(fingerprint, eventTimeMs, position);
    if (firstSeen !== undefined) {
      return {
        kind: 'duplicate',
        findings: [
          {
            findingId: `duplicate:${at}`,
            check: 'duplicate',
            action: 'dropped',
            symbol: value.symbol,
            ts: value.ts,
            message: `repeats the record at partition ${firstSeen.partition} offset ${firstSeen.offset} (fingerprint ${fingerprint}); dropped`,
            source,
            fingerprint: fingerprint.slice(0, 256),
            firstSeen,
          },
        ],
      };
    }

    const findings: QualityFinding.Value[] = [];
    const verdict = this.outliers.check(value.symbol, value.price);
    if (verdict.outlier) {
      const { mean = 0, stddev = 0, zScore = 0 } = verdict;
      const stats = `${Math.abs(zScore) >= 1e6 ? 'far more than' : Math.abs(zScore).toFixed(1)} standard deviations from the rolling mean ${mean.toFixed(4)} (stddev ${stddev.toFixed(4)}) of the symbol's last trades`;
      const outlierFinding = (action: QualityFinding.QualityAction, message: string): QualityFinding.Value => ({
        findingId: `outlier:${at}`,
        check: 'outlier',
        action,
        symbol: value.symbol,
        ts: value.ts,
        message,
        source,
        price: value.price,
        mean,
        stddev,
        zScore,
      });
      if (!verdict.levelShift) {
        const reason = `price outlier: ${value.price} is ${stats}`;
        return { kind: 'outlier', reason, findings: [outlierFinding('dead-lettered', `${reason}; sent to ${this.deadLetterTopic}`)] };
      }
      findings.push(
        outlierFinding(
          'passed',
          `price ${value.price} is ${stats}, after ${this.options.outlier.levelShiftAfter - 1} such trades on the same side: taken as a new price level (the earlier ones are in ${this.deadLetterTopic})`,
        ),
      );
    }

    const gap = this.gaps.check(value.symbol, eventTimeMs);
    if (gap !== undefined) {
      const largest = gap.exceededMs[gap.exceededMs.length - 1];
      findings.push({
        findingId: `gap:${at}`,
        check: 'gap',
        action: 'passed',
        symbol: value.symbol,
        ts: value.ts,
        message: `no ${value.symbol} trade for ${gap.gapMs.toFixed(3)} ms of event time before this one (longer than ${durationText(largest)})`,
        source,
        gapMs: gap.gapMs,
        granularities: gap.exceededMs.map(durationText),
      });
      for (const granularity of gap.exceededMs) this.findingsCount.labels('gap', durationText(granularity)).inc();
    }
    return { kind: 'validated', fingerprint, findings };
  }

  private count(decision: Decision): void {
    this.records.labels(decision.kind).inc();
    if (decision.kind === 'duplicate') this.findingsCount.labels('duplicate', '').inc();
    if (decision.findings.some((finding) => finding.check === 'outlier')) this.findingsCount.labels('outlier', '').inc();
  }

  /** The transport committed up to `lastOffset`: its decisions are no longer needed. */
  private forget(partition: number, lastOffset: string): void {
    const decisions = this.pending.get(partition);
    if (decisions === undefined) return;
    const last = BigInt(lastOffset);
    for (const offset of decisions.keys()) {
      if (BigInt(offset) <= last) {
        decisions.delete(offset);
        this.pendingCount--;
      }
    }
  }

  /** A record the transport dead-lettered (not JSON, failing the schema, or failing every attempt). */
  private onDeadLetter(failure: DeadLetterFailure): void {
    const schema = failure.errorType === 'ValidationError' || failure.errorType === 'DeserializationError';
    if (!schema) return;
    this.findingsCount.labels('schema', '').inc();
    const finding: QualityFinding.Value = {
      findingId: `schema:${failure.topic}:${failure.partition}:${failure.offset}`,
      check: 'schema',
      action: 'dead-lettered',
      ts: nanosFromIso(failure.failedAt.toISOString()),
      message: `${failure.errorType}: ${failure.reason}`.slice(0, 1024),
      source: { topic: failure.topic, partition: failure.partition, offset: failure.offset },
    };
    // The dead letter itself is durable; the finding about it is best effort.
    this.producer
      .sendTo(this.findingsSpec, [{ value: finding, idempotencyKey: finding.findingId }])
      .catch((error: unknown) => this.log.warn({ err: error }, 'could not write a schema finding'));
  }
}
