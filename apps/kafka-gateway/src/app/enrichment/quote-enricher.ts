import type { EnrichedOptionQuote, OptionQuote, UnderlyingQuote } from '@tributary/contracts';
import { yearsToExpiry } from '@tributary/market-math';

export interface QuoteEnricherOptions {
  /** How far behind the newest underlying quote of a partition another may arrive and still count. */
  readonly outOfOrdernessNs: bigint;
  /** An underlying price older than this at the option quote's time is not used (the fields are null). */
  readonly maxUnderlyingAgeNs: bigint;
}

/** Where a record sits in Kafka. */
export interface Position {
  readonly partition: number;
  readonly offset: string;
}

/** An enriched quote with the position of the option quote it came from. */
export interface Released {
  readonly partition: number;
  readonly offset: string;
  readonly enriched: EnrichedOptionQuote.Value;
}

interface PricePoint {
  readonly ts: bigint;
  readonly mid: number;
  readonly offset: bigint;
}

interface PendingQuote {
  readonly quote: OptionQuote.Value;
  readonly ts: bigint;
  readonly offset: bigint;
  readonly arrivedAtMs: number;
}

/** The join state of one partition number: the underlying prices by symbol and the option quotes waiting. */
class PartitionState {
  readonly prices = new Map<string, PricePoint[]>();
  readonly pending: PendingQuote[] = [];
  /** Highest underlying event time seen in this partition, minus nothing (the watermark subtracts the bound). */
  maxUnderlyingTs: bigint | undefined;
  /** Offset after the last option quote consumed (what to commit when nothing waits). */
  optionsNext: bigint | undefined;
  /** Offset after the last underlying quote consumed. */
  underlyingNext: bigint | undefined;
}

function mid(bid: number, ask: number): number | null {
  return bid > 0 && ask > 0 ? (bid + ask) / 2 : null;
}

/** Index of the last point with ts <= t in a list sorted by ts, or -1. */
function asOfIndex(points: readonly PricePoint[], t: bigint): number {
  let lo = 0;
  let hi = points.length - 1;
  let found = -1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (points[m].ts <= t) {
      found = m;
      lo = m + 1;
    } else hi = m - 1;
  }
  return found;
}

/**
 * The event-time join of option quotes with their underlying's price (an as-of join). Both inputs are
 * keyed by the underlying with the same partition count, so partition N of `market.quotes` holds the
 * underlyings of partition N of `options.quotes` and the join runs per partition number.
 *
 * An option quote at time t is joined with the last underlying NBBO mid at or before t, and only once
 * that price is final: when the underlying partition's watermark (its newest event time minus the
 * out-of-orderness bound) has reached t. So the result depends on the event times alone, not on how
 * the two topics interleave on arrival. A quote whose underlying partition stays silent is released
 * after `maxWaitMs` of processing time with what is known (an idle input must not stop the stream).
 * Option quotes leave in the order they came (per-underlying order kept).
 *
 * State is bounded: prices older than the watermark minus `maxUnderlyingAgeNs` are dropped (they could
 * only be used by quotes that would find them too old), and a partition's waiting quotes are bounded by
 * the caller through {@link waiting}.
 */
export class QuoteEnricher {
  private readonly partitions = new Map<number, PartitionState>();

  constructor(private readonly options: QuoteEnricherOptions) {}

  private state(partition: number): PartitionState {
    let state = this.partitions.get(partition);
    if (state === undefined) {
      state = new PartitionState();
      this.partitions.set(partition, state);
    }
    return state;
  }

  /** Records an underlying quote. Returns nothing: call {@link release} to get what it unblocked. */
  addUnderlying(position: Position, quote: UnderlyingQuote.Value): void {
    const state = this.state(position.partition);
    const offset = BigInt(position.offset);
    state.underlyingNext = offset + 1n;
    const price = mid(quote.bidPrice, quote.askPrice);
    const ts = BigInt(quote.ts);
    if (state.maxUnderlyingTs === undefined || ts > state.maxUnderlyingTs) state.maxUnderlyingTs = ts;
    if (price === null) return;
    let points = state.prices.get(quote.symbol);
    if (points === undefined) {
      points = [];
      state.prices.set(quote.symbol, points);
    }
    // Usually appended; a quote within the out-of-orderness bound is put in its place. Equal times
    // keep arrival order, the later one winning the as-of lookup.
    let at = points.length;
    while (at > 0 && points[at - 1].ts > ts) at -= 1;
    points.splice(at, 0, { ts, mid: price, offset });
  }

  addOption(position: Position, quote: OptionQuote.Value, nowMs: number): void {
    const state = this.state(position.partition);
    const offset = BigInt(position.offset);
    state.optionsNext = offset + 1n;
    state.pending.push({ quote, ts: BigInt(quote.ts), offset, arrivedAtMs: nowMs });
  }

  /** Option quotes of all partitions waiting for their underlying price. */
  waiting(): number {
    let n = 0;
    for (const state of this.partitions.values()) n += state.pending.length;
    return n;
  }

  /** The watermark of a partition's underlying quotes, or undefined before the first one. */
  watermark(partition: number): bigint | undefined {
    const max = this.partitions.get(partition)?.maxUnderlyingTs;
    return max === undefined ? undefined : max - this.options.outOfOrdernessNs;
  }

  /**
   * The option quotes whose underlying price is final (or that waited `maxWaitMs`), joined, in arrival
   * order per partition. `force` releases everything waiting (shutdown, or a bound on waiting quotes).
   */
  release(nowMs: number, maxWaitMs: number, force = false): Released[] {
    const out: Released[] = [];
    for (const [partition, state] of this.partitions) {
      const watermark = this.watermark(partition);
      let released = 0;
      for (const pending of state.pending) {
        const final = watermark !== undefined && watermark >= pending.ts;
        if (!force && !final && nowMs - pending.arrivedAtMs < maxWaitMs) break;
        out.push({ partition, offset: String(pending.offset), enriched: this.join(state, pending) });
        released += 1;
      }
      if (released > 0) state.pending.splice(0, released);
      this.prune(state, watermark);
    }
    return out;
  }

  private join(state: PartitionState, pending: PendingQuote): EnrichedOptionQuote.Value {
    const quote = pending.quote;
    const points = state.prices.get(quote.underlying);
    const index = points === undefined ? -1 : asOfIndex(points, pending.ts);
    const point = index >= 0 && points !== undefined ? points[index] : undefined;
    const usable = point !== undefined && pending.ts - point.ts <= this.options.maxUnderlyingAgeNs ? point : undefined;
    const m = mid(quote.bidPrice, quote.askPrice);
    const spread = m === null ? null : quote.askPrice - quote.bidPrice;
    const s = usable?.mid ?? null;
    const years = yearsToExpiry(quote.expiration, pending.ts);
    return {
      ...quote,
      mid: m,
      spread,
      spreadPct: m === null || spread === null ? null : (spread / m) * 100,
      underlyingPrice: s,
      underlyingTs: usable === undefined ? null : String(usable.ts),
      moneyness: s === null ? null : s / quote.strike,
      logMoneyness: s === null ? null : Math.log(s / quote.strike),
      intrinsic: s === null ? null : Math.max(quote.right === 'call' ? s - quote.strike : quote.strike - s, 0),
      yearsToExpiry: years === null ? null : Math.max(years, 0),
    };
  }

  /** Drops prices no waiting or future quote can use: older than the oldest time still to be joined minus the age limit. */
  private prune(state: PartitionState, watermark: bigint | undefined): void {
    if (watermark === undefined) return;
    let horizon = watermark;
    for (const pending of state.pending) if (pending.ts < horizon) horizon = pending.ts;
    const cutoff = horizon - this.options.maxUnderlyingAgeNs;
    for (const [symbol, points] of state.prices) {
      // Keep the last point at or before the cutoff: it is the as-of price at the cutoff itself.
      const keepFrom = asOfIndex(points, cutoff);
      if (keepFrom > 0) points.splice(0, keepFrom);
      if (points.length === 1 && points[0].ts < cutoff) state.prices.delete(symbol);
    }
  }

  /**
   * The offsets to commit per partition so that a restart rebuilds this exact state: for option
   * quotes, the oldest one still waiting (else after the last consumed); for underlying quotes, the
   * oldest price still kept (else after the last consumed).
   */
  commitPositions(): { partition: number; options?: string; underlying?: string }[] {
    const positions: { partition: number; options?: string; underlying?: string }[] = [];
    for (const [partition, state] of this.partitions) {
      const options = state.pending.length > 0 ? state.pending[0].offset : state.optionsNext;
      let underlying = state.underlyingNext;
      // Points are in event-time order, not offset order (late ones are put in their place).
      for (const points of state.prices.values()) {
        for (const point of points) if (underlying === undefined || point.offset < underlying) underlying = point.offset;
      }
      positions.push({
        partition,
        ...(options === undefined ? {} : { options: String(options) }),
        ...(underlying === undefined ? {} : { underlying: String(underlying) }),
      });
    }
    return positions;
  }

  /** Forgets partitions this instance no longer owns (after a rebalance). */
  forget(partitions: readonly number[]): void {
    for (const partition of partitions) this.partitions.delete(partition);
  }

  /** Price points held, for the state-size metric. */
  pricePoints(): number {
    let n = 0;
    for (const state of this.partitions.values()) for (const points of state.prices.values()) n += points.length;
    return n;
  }
}
