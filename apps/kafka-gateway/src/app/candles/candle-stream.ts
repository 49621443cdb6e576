import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy, Optional } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { Candle, CATALOG, type LateTrade, type TopicSpec, type UnderlyingTrade, validateEvent } from '@tributary/contracts';
import {
  type Assignment,
  KAFKA_CONNECTION,
  KAFKA_LOGGER,
  type KafkaConnection,
  ManagedConsumer,
  type PartitionBatch,
  TypedProducer,
} from '@tributary/kafka';
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
 * checkpoints (the partitions are read again from them), so a crash at any point loses no trade and
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
  private consumer?: ManagedConsumer;
  private running = false;
  private stopping = false;
  /** Set while the aggregator holds records whose output was not written: nothing runs until the rebuild. */
  private broken = false;
  private failures = 0;
  private lastError: string | null = null;
  private idleTimer?: NodeJS.Timeout;
  private readonly lastSeen = new Map<number, number>();
  private readonly idle = new Set<number>();
  private readonly committed = new Map<number, string>();
  /** Where each partition started in this generation (where one never committed is read again from). */
  private readonly startOffsets = new Map<number, bigint>();
  /** One batch, idle check or reload at a time: the aggregator is not re-entrant. */
  private lock: Promise<void> = Promise.resolve();
  private readonly emitted: Counter<'interval' | 'kind'>;
  private readonly lateTrades: Counter<'interval'>;
  private readonly skipped: Counter<'reason'>;

  constructor(
    @Inject(KAFKA_CONNECTION) private readonly connection: KafkaConnection,
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
    clearInterval(this.idleTimer);
    // The batch in flight finishes (and commits what it wrote) before the member leaves the group.
    await this.consumer?.stop().catch((error: unknown) => this.log.warn({ err: error }, 'error while stopping the candle consumer'));
    this.running = false;
  }

  status(): CandleStreamStatus {
    const watermark = this.aggregator.watermarkUs;
    return {
      running: this.running,
      groupJoined: this.consumer?.status === 'group-joined',
      watermark: Number.isFinite(watermark) ? (BigInt(watermark) * 1000n).toString() : null,
      openWindows: this.aggregator.windowCount,
      assignment: this.partitions(),
      lastError: this.lastError ?? this.consumer?.lastError ?? null,
    };
  }

  private newAggregator(): CandleAggregator {
    return new CandleAggregator({
      sourceTopic: this.options.sourceTopic,
      outOfOrdernessMs: this.options.outOfOrdernessMs,
      allowedLatenessMs: this.options.allowedLatenessMs,
    });
  }

  private partitions(): number[] {
    return [...(this.consumer?.assignment.get(this.options.sourceTopic) ?? [])].sort((a, b) => a - b);
  }

  private async start(): Promise<void> {
    if (this.stopping) return;
    const consumer = new ManagedConsumer(this.connection, {
      groupId: this.options.groupId,
      topics: [this.options.sourceTopic],
      fromBeginning: this.options.fromBeginning ?? false,
      // commits behind the open windows, with the aggregator's checkpoint
      autoCommit: false,
      partitionsConcurrently: 1,
      maxWaitMs: 500,
      handle: (batch) => this.exclusive(() => this.handleBatch(batch)),
      onAssigned: (assignment) => this.exclusive(() => this.rebuild(assignment)),
      logger: this.log,
    });
    this.consumer = consumer;
    this.running = true;
    if (this.options.idlePartitionMs > 0) {
      this.idleTimer = setInterval(() => void this.exclusive(() => this.checkIdle()), Math.max(100, this.options.idlePartitionMs / 2));
      this.idleTimer.unref();
    }
    // Keeps trying to join while the cluster is away, until the module is destroyed.
    await consumer.start();
  }

  private exclusive(work: () => Promise<void>): Promise<void> {
    const run = this.lock.then(work);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async handleBatch(batch: PartitionBatch): Promise<void> {
    if (this.stopping || this.broken) return;
    const { partition, records } = batch;
    const aggregator = this.aggregator;
    try {
      for (const record of records) {
        const source = { partition, offset: record.offset.toString() };
        const trade = this.decode(record.value);
        if (trade === undefined) aggregator.skip(source);
        else aggregator.add(trade, source);
      }
      if (records.length > 0) {
        this.lastSeen.set(partition, Date.now());
        this.idle.delete(partition);
      }
      await this.flushAndCommit();
      this.failures = 0;
    } catch (error) {
      this.lastError = (error as Error).message;
      this.log.warn({ err: error }, 'could not write or commit candles; rebuilding the windows from the commits');
      await this.rewindToCommits();
    }
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
    const commits: { topic: string; partition: number; offset: bigint; metadata: string }[] = [];
    for (const partition of this.aggregator.partitions()) {
      const point = this.aggregator.commitPoint(partition);
      if (point === undefined) continue;
      const metadata = encodeCheckpoint(point.checkpoint);
      const key = `${point.offset}|${metadata}`;
      if (this.committed.get(partition) === key) continue;
      commits.push({ topic: this.options.sourceTopic, partition, offset: BigInt(point.offset), metadata });
      this.committed.set(partition, key);
    }
    if (commits.length > 0) {
      try {
        await consumer.commit(commits);
      } catch (error) {
        for (const commit of commits) this.committed.delete(commit.partition);
        throw error;
      }
    }
  }

  /**
   * A new generation: a new aggregator from the committed offsets and their checkpoints (the
   * consumer reads each partition from its committed offset, or from where the group starts).
   */
  private async rebuild(assignment: Assignment): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    const topic = this.options.sourceTopic;
    this.startOffsets.clear();
    for (const partition of assignment.get(topic) ?? []) {
      const position = consumer.position(topic, partition);
      if (position !== undefined) this.startOffsets.set(partition, position);
    }
    await this.restoreFromCommits(consumer, assignment.get(topic) ?? []);
    this.log.info({ partitions: this.partitions(), watermarkUs: this.aggregator.watermarkUs }, 'candle windows rebuilt from the committed offsets');
  }

  /**
   * After a failed write or commit the aggregator holds records whose output is not written: it is
   * rebuilt from the commits and every partition is read again from its committed offset (or from
   * where it started in this generation), after a backoff.
   */
  private async rewindToCommits(): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    this.broken = true;
    this.failures++;
    const delayMs = Math.min(30_000, 500 * 2 ** (this.failures - 1));
    const topic = this.options.sourceTopic;
    const partitions = this.partitions();
    try {
      const committed = await this.restoreFromCommits(consumer, partitions);
      for (const partition of partitions) {
        const offset = committed.get(partition) ?? this.startOffsets.get(partition);
        if (offset !== undefined) consumer.rewind(topic, partition, offset, delayMs);
      }
      this.broken = false;
    } catch (error) {
      // The commits cannot be read either: batches are ignored (they are read again after the
      // rewind) until they can.
      this.log.warn({ err: error }, 'could not read the committed offsets; trying again');
      const retry = setTimeout(() => void this.exclusive(() => this.rewindToCommits()), delayMs);
      retry.unref();
    }
  }

  /** Replaces the aggregator with one restored from the checkpoints; answers the committed offsets. */
  private async restoreFromCommits(consumer: ManagedConsumer, partitions: readonly number[]): Promise<Map<number, bigint>> {
    const topic = this.options.sourceTopic;
    const entries = await consumer.committed(new Map([[topic, [...partitions]]]));
    const aggregator = this.newAggregator();
    const offsets = new Map<number, bigint>();
    this.committed.clear();
    this.lastSeen.clear();
    this.idle.clear();
    const now = Date.now();
    for (const partition of partitions) {
      const entry = entries.get(`${topic}:${partition}`);
      const checkpoint = decodeCheckpoint(entry?.metadata ?? undefined);
      aggregator.expectPartition(partition);
      if (checkpoint !== undefined) aggregator.restore(partition, checkpoint);
      if (entry?.offset !== undefined) offsets.set(partition, entry.offset);
      this.lastSeen.set(partition, now);
    }
    this.aggregator = aggregator;
    return offsets;
  }

  private async checkIdle(): Promise<void> {
    if (this.broken || this.consumer?.status !== 'group-joined' || this.stopping) return;
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
      this.log.warn({ err: error }, 'could not write the candles an idle partition released; rebuilding from the commits');
      await this.rewindToCommits();
    }
  }
}
