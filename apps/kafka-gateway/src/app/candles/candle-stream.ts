import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy, Optional } from '@nestjs/common';
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { Candle, CATALOG, type LateTrade, type TopicSpec, type UnderlyingTrade, validateEvent } from '@tributary/contracts';
import { KAFKA_CLIENT, KAFKA_CLIENT_RETRY, KAFKA_LOGGER, TypedProducer } from '@tributary/kafka';
import { TributaryMetrics } from '@tributary/observability';
import { CandleAggregator, decodeCheckpoint, encodeCheckpoint } from './candle-aggregator';

export const CANDLE_STREAM_OPTIONS = Symbol('kafka-gateway.candleStreamOptions');

export interface CandleStreamOptions {
  /** Off: the gateway computes no candles. */
  readonly enabled: boolean;
  /** Consumer group of the candle aggregator (its own: it commits behind the open windows). */
  readonly groupId: string;
  /** Trades topic to aggregate; it must carry UnderlyingTrade (market.trades or market.trades.validated). */
  readonly sourceTopic: string;
  readonly outOfOrdernessMs: number;
  readonly allowedLatenessMs: number;
  /** Where a new consumer group starts: the earliest retained trade, or only new ones. */
  readonly fromBeginning?: boolean;
  /** A partition without records for this long stops holding the watermark back; 0 never. */
  readonly idlePartitionMs: number;
  /** Output topics; default the catalog's candles.1s, candles.10s, candles.1m and candles.late. */
  readonly candleTopics?: Readonly<Record<Candle.CandleInterval, string>>;
  readonly lateTopic?: string;
}

export interface CandleStreamStatus {
  readonly running: boolean;
  readonly groupJoined: boolean;
  /** Watermark as epoch nanoseconds text, null before the first trade. */
  readonly watermark: string | null;
  readonly openWindows: number;
  readonly assignment: readonly number[];
  readonly lastError: string | null;
}

function gauge(registry: Registry, name: string, help: string): Gauge {
  return (registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [registry] });
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

/**
 * The speed layer's candles: reads trades with its own consumer group, aggregates them in event time
 * ({@link CandleAggregator}), writes candles.1s / 10s / 1m and candles.late with the typed producer
 * and, once the brokers acknowledged them, commits per partition the offset of the earliest record
 * an open window still needs, with the aggregator's checkpoint as the offset's metadata.
 *
 * After a restart or a rebalance the aggregator is rebuilt from the committed offsets and their
 * checkpoints (the consumer is sought back to them), so a crash at any point loses no trade and
 * changes no closed candle; candles emitted after the last commit are emitted again, identical
 * (same key on a compacted topic), and a late trade may be reported twice with the same
 * `idempotency.key`.
 */
@Injectable()
export class CandleStream implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: Logger;
  private readonly candleSpecs: Record<Candle.CandleInterval, TopicSpec<typeof Candle.schema>>;
  private readonly lateSpec: TopicSpec<typeof LateTrade.schema>;
  private readonly sourceSpec: TopicSpec;
  private aggregator: CandleAggregator;
  private consumer?: Consumer;
  private admin?: Admin;
  private running = false;
  private stopping = false;
  private groupJoined = false;
  private assignment: number[] = [];
  private reloadNeeded = true;
  private lastError: string | null = null;
  private restartTimer?: NodeJS.Timeout;
  private restartDelayMs = 1000;
  private idleTimer?: NodeJS.Timeout;
  private readonly lastSeen = new Map<number, number>();
  private readonly idle = new Set<number>();
  private readonly committed = new Map<number, string>();
  /** First offset processed per partition since the group was joined (where an uncommitted partition restarts). */
  private readonly startOffsets = new Map<number, string>();
  /** One batch, idle check or reload at a time: the aggregator is not re-entrant. */
  private lock: Promise<void> = Promise.resolve();
  private readonly emitted: Counter<'interval' | 'kind'>;
  private readonly lateTrades: Counter<'interval'>;
  private readonly skipped: Counter<'reason'>;

  constructor(
    @Inject(KAFKA_CLIENT) private readonly kafka: Kafka,
    private readonly producer: TypedProducer,
    @Inject(KAFKA_LOGGER) logger: Logger,
    @Inject(CANDLE_STREAM_OPTIONS) private readonly options: CandleStreamOptions,
    @Optional() metrics?: TributaryMetrics,
  ) {
    this.log = logger.child({ component: 'candle-stream', groupId: options.groupId });
    const topics = options.candleTopics ?? { '1s': 'candles.1s', '10s': 'candles.10s', '1m': 'candles.1m' };
    this.candleSpecs = {
      '1s': { ...CATALOG['candles.1s'], topic: topics['1s'] },
      '10s': { ...CATALOG['candles.10s'], topic: topics['10s'] },
      '1m': { ...CATALOG['candles.1m'], topic: topics['1m'] },
    };
    this.lateSpec = { ...CATALOG['candles.late'], topic: options.lateTopic ?? 'candles.late' };
    this.sourceSpec = { ...CATALOG['market.trades'], topic: options.sourceTopic };
    this.aggregator = this.newAggregator();
    const registry = metrics?.registry ?? new Registry();
    this.emitted = counter(registry, 'tributary_candles_emitted_total', 'Candles written, by interval and kind (first emission, or revision after late trades)', ['interval', 'kind']);
    this.lateTrades = counter(registry, 'tributary_candles_late_trades_total', 'Trades too late for a candle window, by interval', ['interval']);
    this.skipped = counter(registry, 'tributary_candles_skipped_records_total', 'Records of the trades topic that are not valid trades (the quality processor dead-letters them), by reason', ['reason']);
    const lag = gauge(registry, 'tributary_candles_watermark_lag_seconds', 'Wall clock minus the candle watermark, in seconds (how far event time trails real time)');
    const windows = gauge(registry, 'tributary_candles_open_windows', 'Candle windows held in memory, all intervals');
    this.collectGauges = () => {
      const watermark = this.aggregator.watermarkUs;
      if (Number.isFinite(watermark)) lag.set(Date.now() / 1000 - watermark / 1e6);
      windows.set(this.aggregator.windowCount);
    };
  }

  /** Refreshes the watermark lag and window gauges (called on each flush). */
  private collectGauges: () => void = () => undefined;

  onApplicationBootstrap(): void {
    if (!this.options.enabled) {
      this.log.info('candles disabled (GATEWAY_CANDLES_ENABLED=false)');
      return;
    }
    void this.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.idleTimer);
    const consumer = this.consumer;
    this.consumer = undefined;
    // kafkajs lets the batch in flight finish (it commits what it wrote) before leaving the group.
    await consumer?.disconnect().catch((error: unknown) => this.log.warn({ err: error }, 'error while stopping the candle consumer'));
    await this.admin?.disconnect().catch(() => undefined);
    this.running = false;
  }

  status(): CandleStreamStatus {
    const watermark = this.aggregator.watermarkUs;
    return {
      running: this.running,
      groupJoined: this.groupJoined,
      watermark: Number.isFinite(watermark) ? (BigInt(watermark) * 1000n).toString() : null,
      openWindows: this.aggregator.windowCount,
      assignment: this.assignment,
      lastError: this.lastError,
    };
  }

  private newAggregator(): CandleAggregator {
    return new CandleAggregator({
      sourceTopic: this.options.sourceTopic,
      outOfOrdernessMs: this.options.outOfOrdernessMs,
      allowedLatenessMs: this.options.allowedLatenessMs,
    });
  }

  private async start(): Promise<void> {
    if (this.stopping) return;
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 500,
      sessionTimeout: 30_000,
      retry: { ...KAFKA_CLIENT_RETRY, restartOnFailure: async () => this.consumer === consumer && !this.stopping },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.groupJoined = true;
      this.assignment = [...(event.payload.memberAssignment[this.options.sourceTopic] ?? [])].sort((a, b) => a - b);
      this.reloadNeeded = true; // kafkajs resumes every partition from its committed offset
      this.startOffsets.clear();
      this.lastError = null;
      this.restartDelayMs = 1000;
      this.log.info({ partitions: this.assignment }, 'candle aggregator joined its group');
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.groupJoined = false;
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.groupJoined = false;
      this.reloadNeeded = true;
      this.lastError = String((event.payload.error as Error | undefined)?.message ?? event.payload.error);
      if (!event.payload.restart && !this.stopping && this.consumer === consumer) this.restartLater(consumer);
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.options.sourceTopic], fromBeginning: this.options.fromBeginning ?? false });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: (payload) => this.exclusive(() => this.handleBatch(payload)),
      });
      this.running = true;
      if (this.options.idlePartitionMs > 0) {
        clearInterval(this.idleTimer);
        this.idleTimer = setInterval(() => void this.exclusive(() => this.checkIdle()), Math.max(100, this.options.idlePartitionMs / 2));
        this.idleTimer.unref();
      }
    } catch (error) {
      this.lastError = (error as Error).message;
      this.log.warn({ err: error }, 'candle consumer could not start; retrying');
      this.restartLater(consumer);
    }
  }

  private restartLater(failed: Consumer): void {
    if (this.consumer === failed) this.consumer = undefined;
    this.running = false;
    void failed.disconnect().catch(() => undefined);
    if (this.stopping) return;
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.start(), this.restartDelayMs);
    this.restartTimer.unref();
    this.restartDelayMs = Math.min(30_000, this.restartDelayMs * 2);
  }

  private exclusive(work: () => Promise<void>): Promise<void> {
    const run = this.lock.then(work);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (this.stopping || payload.isStale()) return;
    if (this.reloadNeeded) {
      const sought = await this.reload();
      // A partition sought back to its committed offset gets this batch again from there.
      if (sought.has(batch.partition)) return;
    }
    const { partition, messages } = batch;
    const aggregator = this.aggregator;
    try {
      if (messages.length > 0 && !this.startOffsets.has(partition)) this.startOffsets.set(partition, messages[0].offset);
      for (const message of messages) {
        const source = { partition, offset: message.offset };
        const trade = this.decode(message.value);
        if (trade === undefined) aggregator.skip(source);
        else aggregator.add(trade, source);
      }
      if (messages.length > 0) {
        this.lastSeen.set(partition, Date.now());
        this.idle.delete(partition);
      }
      await this.flushAndCommit();
    } catch (error) {
      // The aggregator holds records whose output was not written: rebuild it from the commits.
      this.reloadNeeded = true;
      throw error;
    }
    if (messages.length > 0) payload.resolveOffset(messages[messages.length - 1].offset);
    await payload.heartbeat();
  }

  private decode(raw: Buffer | null): UnderlyingTrade.Value | undefined {
    if (raw === null) {
      this.skipped.labels('tombstone').inc();
      return undefined;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw.toString('utf8'));
    } catch {
      this.skipped.labels('not-json').inc();
      return undefined;
    }
    // A trade from the future would drag the watermark along and close every window: it is skipped.
    const result = validateEvent(this.sourceSpec, value);
    if (!result.ok) {
      this.skipped.labels('invalid').inc();
      return undefined;
    }
    return value as UnderlyingTrade.Value;
  }

  /** Writes what the aggregator has due, waits for the acks, then commits each partition's point. */
  private async flushAndCommit(): Promise<void> {
    const { candles, late } = this.aggregator.flush();
    const writes: Promise<void>[] = [];
    if (candles.length > 0) {
      const byInterval = new Map<Candle.CandleInterval, Candle.Value[]>();
      for (const candle of candles) {
        let list = byInterval.get(candle.interval);
        if (list === undefined) byInterval.set(candle.interval, (list = []));
        list.push(candle);
        this.emitted.labels(candle.interval, candle.revision === 0 ? 'first' : 'revision').inc();
      }
      for (const [interval, list] of byInterval) writes.push(this.producer.sendTo(this.candleSpecs[interval], list));
    }
    if (late.length > 0) {
      for (const report of late) for (const window of report.missed) this.lateTrades.labels(window.interval).inc();
      writes.push(
        this.producer.sendTo(
          this.lateSpec,
          late.map((value) => ({
            value,
            idempotencyKey: `late:${value.source.topic}:${value.source.partition}:${value.source.offset}`,
          })),
        ),
      );
    }
    await Promise.all(writes);
    this.collectGauges();

    const consumer = this.consumer;
    if (consumer === undefined) return;
    const commits: { topic: string; partition: number; offset: string; metadata: string }[] = [];
    for (const partition of this.aggregator.partitions()) {
      const point = this.aggregator.commitPoint(partition);
      if (point === undefined) continue;
      const metadata = encodeCheckpoint(point.checkpoint);
      const key = `${point.offset}|${metadata}`;
      if (this.committed.get(partition) === key) continue;
      commits.push({ topic: this.options.sourceTopic, partition, offset: point.offset, metadata });
      this.committed.set(partition, key);
    }
    if (commits.length > 0) {
      try {
        await consumer.commitOffsets(commits);
      } catch (error) {
        for (const commit of commits) this.committed.delete(commit.partition);
        throw error;
      }
    }
  }

  /**
   * A new aggregator from the committed offsets and their checkpoints; the consumer is sought back to
   * them (a partition never committed goes back to the first record read since the group was joined,
   * or stays where kafkajs started it). Answers the partitions sought.
   */
  private async reload(): Promise<Set<number>> {
    const sought = new Set<number>();
    const consumer = this.consumer;
    if (consumer === undefined) return sought;
    this.admin ??= this.kafka.admin();
    await this.admin.connect();
    const topic = this.options.sourceTopic;
    const [offsets] = await this.admin.fetchOffsets({ groupId: this.options.groupId, topics: [topic] });
    const aggregator = this.newAggregator();
    this.committed.clear();
    this.lastSeen.clear();
    this.idle.clear();
    const now = Date.now();
    for (const partition of this.assignment) {
      const entry = offsets?.partitions.find((candidate) => candidate.partition === partition);
      const checkpoint = decodeCheckpoint(entry?.metadata);
      aggregator.expectPartition(partition);
      if (checkpoint !== undefined) aggregator.restore(partition, checkpoint);
      const committedOffset = entry !== undefined && Number(entry.offset) >= 0 ? entry.offset : this.startOffsets.get(partition);
      if (committedOffset !== undefined) {
        consumer.seek({ topic, partition, offset: committedOffset });
        sought.add(partition);
      }
      this.lastSeen.set(partition, now);
    }
    this.startOffsets.clear();
    this.aggregator = aggregator;
    this.reloadNeeded = false;
    this.log.info({ partitions: this.assignment, watermarkUs: aggregator.watermarkUs }, 'candle windows rebuilt from the committed offsets');
    return sought;
  }

  private async checkIdle(): Promise<void> {
    if (this.reloadNeeded || !this.groupJoined || this.stopping) return;
    const now = Date.now();
    let changed = false;
    for (const [partition, seen] of this.lastSeen) {
      if (this.idle.has(partition) || now - seen < this.options.idlePartitionMs) continue;
      this.idle.add(partition);
      this.aggregator.markIdle(partition);
      changed = true;
    }
    if (!changed) return;
    try {
      await this.flushAndCommit();
    } catch (error) {
      this.reloadNeeded = true;
      this.log.warn({ err: error }, 'could not write the candles an idle partition released; rebuilding from the commits');
    }
  }
}
