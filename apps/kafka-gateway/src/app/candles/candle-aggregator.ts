import { WatermarkTracker } from '@tributary/cep';
import { Candle, type LateTrade, type UnderlyingTrade } from '@tributary/contracts';
import { decimalOf, NotionalSum } from './exact-price';

/**
 * Event-time OHLCV candles of trades, per symbol, for 1 s, 10 s and 1 min windows.
 *
 * - Watermark: per input partition the highest event time seen minus the bounded out-of-orderness;
 *   the aggregator's watermark is the minimum over the partitions (idle ones excluded), never
 *   moving back ({@link WatermarkTracker} of @tributary/cep, on microseconds since the epoch).
 * - A window is emitted (revision 0) once the watermark reaches its end. A trade for an emitted
 *   window whose end + allowed lateness the watermark has not reached yet is added and the window
 *   emitted again, revision + 1 (same key, so compaction keeps the latest). A trade later than that
 *   is not counted in that window and is reported as a {@link LateTrade.Value}; a 1 min window may
 *   still take a trade its 1 s window is too late for.
 * - Deterministic: a candle is a function of the set of trades it holds. Open and close are the
 *   first and last trade in the order (ts, exchange, tradeId, price, size, partition, offset): the
 *   trade's own fields come first, so equal event times never depend on arrival order. VWAP is the
 *   exact sum of price x size (prices as the decimals JSON prints) over the volume, rounded once.
 * - Restart: {@link commitPoint} gives, per input partition, the offset to commit (that of the
 *   earliest record still held by a window that may change) and a checkpoint to store with it (the
 *   watermark, the last record processed and the highest revision in flight). {@link restore} takes
 *   that checkpoint back: records up to the last one processed rebuild the open windows without
 *   emitting again (what they produced was emitted before the commit) and are ignored for windows
 *   that were already closed, so a closed candle is never overwritten by a partial one.
 */
export interface CandleAggregatorOptions {
  /** Topic the trades are read from (named in late-trade reports and watermark partitions). */
  readonly sourceTopic: string;
  /** How far behind the highest event time of its partition a trade may be and still count on time. */
  readonly outOfOrdernessMs: number;
  /** How long after a window's end (in event time) a late trade still corrects it. */
  readonly allowedLatenessMs: number;
  /** Window lengths to aggregate; default all of Candle.INTERVALS. */
  readonly intervals?: readonly Candle.CandleInterval[];
}

/** Where a record came from. */
export interface TradeSource {
  readonly partition: number;
  /** Kafka offset, decimal. */
  readonly offset: string;
}

/** What {@link CandleAggregator.flush} hands over for producing. */
export interface CandleOutput {
  readonly candles: Candle.Value[];
  readonly late: LateTrade.Value[];
}

/** Stored with a committed offset (as its metadata): enough to rebuild the partition's windows exactly. */
export interface PartitionCheckpoint {
  /** Watermark when the offset was committed, epoch microseconds (null: none yet). */
  readonly watermarkUs: number | null;
  /** Last offset processed when committing: records up to it were processed and their output emitted. */
  readonly lastOffset: string;
  /** Highest revision emitted among the windows that could still change. */
  readonly maxRevision: number;
}

export interface CommitPoint {
  /** The offset to commit: the next record to read on a restart. */
  readonly offset: string;
  readonly checkpoint: PartitionCheckpoint;
}

/** The total order of trades inside a window. */
interface OrderedTrade {
  readonly seconds: number;
  readonly nanos: number;
  readonly exchange: string;
  readonly tradeId: string;
  readonly price: number;
  readonly size: number;
  readonly partition: number;
  readonly offset: string;
}

interface Window {
  readonly symbol: string;
  /** Lowest offset of the records it holds, per partition (one partition unless a symbol is keyed oddly). */
  readonly firstOffsets: Map<number, string>;
  first: OrderedTrade;
  last: OrderedTrade;
  high: number;
  low: number;
  volume: number;
  readonly notional: NotionalSum;
  trades: number;
  emitted: boolean;
  revision: number;
  /** Emitted, and changed since. */
  dirty: boolean;
}

interface IntervalState {
  readonly interval: Candle.CandleInterval;
  readonly seconds: number;
  /** Windows by start (epoch seconds), then by symbol. */
  readonly buckets: Map<number, Map<string, Window>>;
}

interface Replay {
  readonly watermarkUs: number;
  readonly lastOffset: string;
  readonly maxRevision: number;
}

export function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareTrades(a: OrderedTrade, b: OrderedTrade): number {
  if (a.seconds !== b.seconds) return a.seconds - b.seconds;
  if (a.nanos !== b.nanos) return a.nanos - b.nanos;
  if (a.exchange !== b.exchange) return a.exchange < b.exchange ? -1 : 1;
  if (a.tradeId !== b.tradeId) return a.tradeId < b.tradeId ? -1 : 1;
  if (a.price !== b.price) return a.price - b.price;
  if (a.size !== b.size) return a.size - b.size;
  if (a.partition !== b.partition) return a.partition - b.partition;
  return compareOffsets(a.offset, b.offset);
}

function incrementOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

function nanosOfMicros(us: number): string {
  return (BigInt(us) * 1000n).toString();
}

const SECONDS: Readonly<Record<Candle.CandleInterval, number>> = { '1s': 1, '10s': 10, '1m': 60 };

export class CandleAggregator {
  private readonly tracker: WatermarkTracker;
  private readonly intervals: IntervalState[];
  private readonly latenessUs: number;
  private readonly lastOffsets = new Map<number, string>();
  private readonly replays = new Map<number, Replay>();
  private pendingLate: LateTrade.Value[] = [];
  /** Windows held in memory, all intervals. */
  private openWindows = 0;

  constructor(readonly options: CandleAggregatorOptions) {
    if (!(options.outOfOrdernessMs >= 0)) throw new RangeError('outOfOrdernessMs must be >= 0');
    if (!(options.allowedLatenessMs >= 0)) throw new RangeError('allowedLatenessMs must be >= 0');
    this.tracker = new WatermarkTracker(Math.round(options.outOfOrdernessMs * 1000));
    this.latenessUs = Math.round(options.allowedLatenessMs * 1000);
    const intervals = options.intervals ?? Candle.INTERVALS;
    if (intervals.length === 0) throw new RangeError('at least one interval');
    this.intervals = intervals.map((interval) => ({ interval, seconds: SECONDS[interval], buckets: new Map() }));
  }

  /** The watermark in epoch microseconds; -Infinity before the first trade. */
  get watermarkUs(): number {
    return this.tracker.watermark;
  }

  /** Windows held in memory (all intervals). */
  get windowCount(): number {
    return this.openWindows;
  }

  /**
   * Takes back the checkpoint committed with a partition's offset, before its first record is added.
   * The watermark starts at the highest restored one (it never moves back).
   */
  restore(partition: number, checkpoint: PartitionCheckpoint): void {
    if (checkpoint.watermarkUs !== null) this.tracker.advanceTo(checkpoint.watermarkUs);
    this.replays.set(partition, {
      watermarkUs: checkpoint.watermarkUs ?? Number.NEGATIVE_INFINITY,
      lastOffset: checkpoint.lastOffset,
      maxRevision: checkpoint.maxRevision,
    });
  }

  /** True while records of the partition up to its restored checkpoint are still being read again. */
  replaying(partition: number): boolean {
    return this.replays.has(partition);
  }

  /**
   * Counts an assigned partition in the watermark before it delivered anything: until it does (or is
   * marked idle) the watermark cannot pass it, so a partition fetched late finds its windows open.
   */
  expectPartition(partition: number): void {
    this.tracker.observe(`${this.options.sourceTopic}/${partition}`, Number.NEGATIVE_INFINITY);
  }

  /** Leaves a partition out of the watermark until it delivers again (no records for a while). */
  markIdle(partition: number): void {
    this.tracker.markIdle(`${this.options.sourceTopic}/${partition}`);
  }

  /** Moves the watermark forward to `us` (epoch microseconds), e.g. at the end of a finite input. */
  advanceWatermark(us: number): void {
    this.tracker.advanceTo(us);
  }

  /** Notes a record that is not a trade (refused by validation): the partition moved past it. */
  skip(source: TradeSource): void {
    this.lastOffsets.set(source.partition, source.offset);
    const replay = this.replays.get(source.partition);
    if (replay !== undefined && compareOffsets(source.offset, replay.lastOffset) >= 0) this.replays.delete(source.partition);
  }

  /** Adds one trade read at `source`; candles and late reports come out of {@link flush}. */
  add(trade: UnderlyingTrade.Value, source: TradeSource): void {
    const ts = trade.ts;
    const seconds = Number(ts.slice(0, -9));
    const nanos = Number(ts.slice(-9));
    const micros = seconds * 1_000_000 + Math.floor(nanos / 1000);
    const { partition, offset } = source;
    this.lastOffsets.set(partition, offset);
    const watermark = this.tracker.observeRecord(this.options.sourceTopic, partition, micros);

    let replay = this.replays.get(partition);
    if (replay !== undefined && compareOffsets(offset, replay.lastOffset) > 0) {
      this.replays.delete(partition);
      replay = undefined;
    }

    const ordered: OrderedTrade = {
      seconds,
      nanos,
      exchange: trade.exchange,
      tradeId: trade.tradeId,
      price: trade.price,
      size: trade.size,
      partition,
      offset,
    };
    const price = decimalOf(trade.price);
    let missed: LateTrade.Value['missed'] | undefined;
    for (const state of this.intervals) {
      const start = seconds - (seconds % state.seconds);
      const endUs = (start + state.seconds) * 1_000_000;
      const closedAt = endUs + this.latenessUs;
      if (replay !== undefined) {
        // Already decided before the restart: a closed window keeps what it emitted.
        if (closedAt <= replay.watermarkUs) continue;
      } else if (closedAt <= watermark) {
        (missed ??= []).push({
          interval: state.interval,
          windowStart: `${start}000000000`,
          windowEnd: `${start + state.seconds}000000000`,
        });
        continue;
      }
      let bucket = state.buckets.get(start);
      if (bucket === undefined) {
        bucket = new Map();
        state.buckets.set(start, bucket);
      }
      const window = bucket.get(trade.symbol);
      if (window === undefined) {
        const created: Window = {
          symbol: trade.symbol,
          firstOffsets: new Map([[partition, offset]]),
          first: ordered,
          last: ordered,
          high: trade.price,
          low: trade.price,
          volume: trade.size,
          notional: new NotionalSum(),
          trades: 1,
          emitted: false,
          revision: 0,
          dirty: false,
        };
        created.notional.add(price, trade.size);
        if (replay !== undefined && endUs <= replay.watermarkUs) {
          // Emitted before the restart with what the replay is rebuilding.
          created.emitted = true;
          created.revision = replay.maxRevision;
        }
        bucket.set(trade.symbol, created);
        this.openWindows++;
        continue;
      }
      const firstOffset = window.firstOffsets.get(partition);
      if (firstOffset === undefined || compareOffsets(offset, firstOffset) < 0) window.firstOffsets.set(partition, offset);
      if (compareTrades(ordered, window.first) < 0) window.first = ordered;
      if (compareTrades(ordered, window.last) > 0) window.last = ordered;
      if (trade.price > window.high) window.high = trade.price;
      if (trade.price < window.low) window.low = trade.price;
      window.volume += trade.size;
      window.notional.add(price, trade.size);
      window.trades++;
      if (window.emitted && replay === undefined) window.dirty = true;
    }
    if (missed !== undefined) this.pendingLate.push(this.lateReport(trade, source, missed, watermark));
    if (replay !== undefined && compareOffsets(offset, replay.lastOffset) >= 0) this.replays.delete(partition);
  }

  /**
   * Candles due at the current watermark (first emissions and corrections) and the late reports
   * since the last flush; windows past their allowed lateness are dropped from memory.
   */
  flush(): CandleOutput {
    const watermark = this.tracker.watermark;
    const candles: Candle.Value[] = [];
    const final = this.latenessUs === 0;
    for (const state of this.intervals) {
      for (const [start, bucket] of state.buckets) {
        const endUs = (start + state.seconds) * 1_000_000;
        if (endUs > watermark) continue;
        for (const window of bucket.values()) {
          if (!window.emitted) {
            window.emitted = true;
            candles.push(this.candleOf(state, start, window, final));
          } else if (window.dirty) {
            window.revision++;
            window.dirty = false;
            candles.push(this.candleOf(state, start, window, final));
          }
        }
        if (endUs + this.latenessUs <= watermark) {
          this.openWindows -= bucket.size;
          state.buckets.delete(start);
        }
      }
    }
    const late = this.pendingLate;
    this.pendingLate = [];
    return { candles, late };
  }

  /**
   * The offset to commit for a partition and the checkpoint to store with it, once everything
   * {@link flush} returned has been written. Undefined while nothing new was read from it, or
   * while it is still replaying up to its restored checkpoint (the old commit stays valid).
   */
  commitPoint(partition: number): CommitPoint | undefined {
    const lastOffset = this.lastOffsets.get(partition);
    if (lastOffset === undefined || this.replays.has(partition)) return undefined;
    let earliest: string | undefined;
    let maxRevision = 0;
    for (const state of this.intervals) {
      for (const bucket of state.buckets.values()) {
        for (const window of bucket.values()) {
          const first = window.firstOffsets.get(partition);
          if (first === undefined) continue;
          if (earliest === undefined || compareOffsets(first, earliest) < 0) earliest = first;
          if (window.revision > maxRevision) maxRevision = window.revision;
        }
      }
    }
    const watermark = this.tracker.watermark;
    return {
      offset: earliest ?? incrementOffset(lastOffset),
      checkpoint: {
        watermarkUs: Number.isFinite(watermark) ? watermark : null,
        lastOffset,
        maxRevision,
      },
    };
  }

  /** Partitions records were read from since this aggregator was created. */
  partitions(): number[] {
    return [...this.lastOffsets.keys()];
  }

  private candleOf(state: IntervalState, start: number, window: Window, final: boolean): Candle.Value {
    const end = `${start + state.seconds}000000000`;
    return {
      symbol: window.symbol,
      interval: state.interval,
      windowStart: `${start}000000000`,
      windowEnd: end,
      open: window.first.price,
      high: window.high,
      low: window.low,
      close: window.last.price,
      volume: window.volume,
      vwap: window.notional.divideBy(window.volume),
      trades: window.trades,
      revision: window.revision,
      final,
      ts: end,
    };
  }

  private lateReport(
    trade: UnderlyingTrade.Value,
    source: TradeSource,
    missed: LateTrade.Value['missed'],
    watermarkUs: number,
  ): LateTrade.Value {
    const watermark = nanosOfMicros(watermarkUs);
    return {
      symbol: trade.symbol,
      price: trade.price,
      size: trade.size,
      exchange: trade.exchange,
      tradeId: trade.tradeId,
      ts: trade.ts,
      missed,
      watermark,
      allowedLatenessMs: this.options.allowedLatenessMs,
      reason: `too late for the ${missed.map((window) => window.interval).join(', ')} window(s): the watermark ${watermark} had passed windowEnd + allowed lateness (${this.options.allowedLatenessMs} ms)`,
      source: { topic: this.options.sourceTopic, partition: source.partition, offset: source.offset },
    };
  }
}

/** The checkpoint as the metadata string of a committed offset (brokers keep up to 4 KiB by default). */
export function encodeCheckpoint(checkpoint: PartitionCheckpoint): string {
  return JSON.stringify({
    v: 1,
    wm: checkpoint.watermarkUs,
    last: checkpoint.lastOffset,
    rev: checkpoint.maxRevision,
  });
}

/** The checkpoint of a committed offset's metadata; undefined when there is none or it is not ours. */
export function decodeCheckpoint(metadata: string | null | undefined): PartitionCheckpoint | undefined {
  if (!metadata) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(metadata);
  } catch {
    return undefined;
  }
  const { v, wm, last, rev } = (parsed ?? {}) as Record<string, unknown>;
  if (v !== 1) return undefined;
  if (!(wm === null || (typeof wm === 'number' && Number.isSafeInteger(wm)))) return undefined;
  if (typeof last !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(last)) return undefined;
  if (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 0) return undefined;
  return { watermarkUs: wm, lastOffset: last, maxRevision: rev };
}
