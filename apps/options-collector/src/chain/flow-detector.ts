import type { OptionFlow, OptionQuote, OptionTrade } from '@tributary/contracts';
import { easternDay } from './market-calendar';

export interface FlowDetectionConfig {
  /** A single print at or above this premium (price x size x multiplier, USD) is reported as a block. */
  readonly blockPremium: number;
  /** A single print of at least this many contracts is reported as a block. */
  readonly blockSize: number;
  /** Session volume at or above this multiple of open interest is unusual ... */
  readonly volumeToOpenInterest: number;
  /** ... once the session volume is at least this many contracts (small contracts cross ratios by noise). */
  readonly minUnusualVolume: number;
  /** Prints of one order: same underlying, expiration, right and aggressor side within this window (ms). */
  readonly sweepWindowMs: number;
  /** A sweep hits at least this many exchanges ... */
  readonly minSweepExchanges: number;
  /** ... for at least this premium in total (USD). */
  readonly minSweepPremium: number;
  /** Contract multiplier (100 for standard US equity options). */
  readonly multiplier?: number;
}

export const DEFAULT_FLOW_DETECTION: FlowDetectionConfig = {
  blockPremium: 250_000,
  blockSize: 500,
  volumeToOpenInterest: 1,
  minUnusualVolume: 500,
  sweepWindowMs: 50,
  minSweepExchanges: 3,
  minSweepPremium: 25_000,
};

export type AggressorSide = 'buy' | 'sell' | 'mid' | 'unknown';

interface Nbbo {
  readonly bidPrice: number;
  readonly askPrice: number;
}

interface Print {
  readonly trade: OptionTrade.Value;
  readonly micros: number;
}

interface SweepCandidate {
  readonly side: 'buy' | 'sell';
  readonly firstMicros: number;
  readonly prints: Print[];
}

interface SessionVolume {
  volume: number;
  reported: boolean;
}

/** Microseconds since the epoch of an epoch-ns string: exact in a double (< 2^53) and enough for windows. */
function microsOf(ts: string): number {
  return ts.length > 3 ? Number(ts.slice(0, -3)) : 0;
}

/**
 * Finds unusual options activity in the trade stream: blocks (one large print), sweeps (one order
 * filled across several exchanges within milliseconds, on one contract or across strikes of the same
 * underlying, expiration and right), and session volume above open interest. Pure and deterministic:
 * fed quotes and trades in event-time order, it returns the OptionFlow events with their evidence.
 * A sweep is reported when its window closes, i.e. on the first later trade or `advanceTo` past it.
 */
export class FlowDetector {
  private readonly multiplier: number;
  private readonly nbbo = new Map<string, Nbbo>();
  private readonly underlyingPrices = new Map<string, number>();
  private readonly sweeps = new Map<string, SweepCandidate>();
  private readonly volumes = new Map<string, SessionVolume>();
  private sessionDay = -1;

  constructor(private readonly config: FlowDetectionConfig = DEFAULT_FLOW_DETECTION) {
    this.multiplier = config.multiplier ?? 100;
  }

  /** Open sweep windows and tracked contracts, for bounded-state checks and metrics. */
  get stateSize(): { quotes: number; openSweeps: number; sessionVolumes: number } {
    return { quotes: this.nbbo.size, openSweeps: this.sweeps.size, sessionVolumes: this.volumes.size };
  }

  onQuote(quote: OptionQuote.Value): void {
    this.nbbo.set(quote.symbol, { bidPrice: quote.bidPrice, askPrice: quote.askPrice });
  }

  onUnderlyingPrice(underlying: string, price: number): void {
    if (price > 0) this.underlyingPrices.set(underlying, price);
  }

  /** Forget a contract no longer followed (its quote and session volume). */
  forget(symbol: string): void {
    this.nbbo.delete(symbol);
    this.volumes.delete(symbol);
  }

  /** Aggressor of a print against the NBBO before it: at/above the ask buys, at/below the bid sells. */
  aggressor(trade: OptionTrade.Value): AggressorSide {
    const quote = this.nbbo.get(trade.symbol);
    if (!quote || !(quote.askPrice > 0)) return 'unknown';
    if (trade.price >= quote.askPrice) return 'buy';
    if (quote.bidPrice > 0 && trade.price <= quote.bidPrice) return 'sell';
    return 'mid';
  }

  /**
   * One trade print; `openInterest` is the contract's open interest when known. Returns the flows this
   * print completes or reveals (sweeps whose window it closes, a block, an unusual-volume crossing).
   */
  onTrade(trade: OptionTrade.Value, openInterest?: number): OptionFlow.Value[] {
    const micros = microsOf(trade.ts);
    const flows = this.advanceTo(trade.ts);
    this.rollSession(micros);
    const side = this.aggressor(trade);
    const premium = trade.price * trade.size * this.multiplier;

    let session = this.volumes.get(trade.symbol);
    if (!session) {
      session = { volume: 0, reported: false };
      this.volumes.set(trade.symbol, session);
    }
    session.volume += trade.size;
    if (trade.size >= this.config.blockSize || premium >= this.config.blockPremium) {
      flows.push(this.flow('block', side, [{ trade, micros }], openInterest));
    }
    if (
      !session.reported &&
      openInterest !== undefined &&
      session.volume >= this.config.minUnusualVolume &&
      session.volume >= this.config.volumeToOpenInterest * openInterest
    ) {
      session.reported = true;
      const evidence = this.flow('unusual_volume', side, [{ trade, micros }], openInterest);
      flows.push({ ...evidence, size: session.volume, premium: round(evidence.price * session.volume * this.multiplier, 2) });
    }

    if (side === 'buy' || side === 'sell') {
      const key = `${trade.underlying}|${trade.expiration}|${trade.right}|${side}`;
      let candidate = this.sweeps.get(key);
      if (!candidate) {
        candidate = { side, firstMicros: micros, prints: [] };
        this.sweeps.set(key, candidate);
      }
      if (candidate.prints.length < 256) candidate.prints.push({ trade, micros });
    }
    return flows;
  }

  /**
   * Event time moved to `ts` (epoch ns) with no trade: closes the sweep windows that ended before it.
   * Call it from the collector's clock (any event) so a sweep is not held back by a quiet contract.
   */
  advanceTo(ts: string): OptionFlow.Value[] {
    const micros = microsOf(ts);
    const windowMicros = this.config.sweepWindowMs * 1000;
    const flows: OptionFlow.Value[] = [];
    for (const [key, candidate] of this.sweeps) {
      if (micros - candidate.firstMicros <= windowMicros) continue;
      this.sweeps.delete(key);
      const sweep = this.closeSweep(candidate);
      if (sweep) flows.push(sweep);
    }
    return flows;
  }

  private closeSweep(candidate: SweepCandidate): OptionFlow.Value | undefined {
    const exchanges = new Set(candidate.prints.map((print) => print.trade.exchange));
    if (exchanges.size < this.config.minSweepExchanges) return undefined;
    const flow = this.flow('sweep', candidate.side, candidate.prints, undefined);
    if (flow.premium < this.config.minSweepPremium) return undefined;
    return flow;
  }

  /** Session volumes start again each New York day. */
  private rollSession(micros: number): void {
    const day = easternDay(Math.floor(micros / 1000));
    if (day === this.sessionDay) return;
    this.sessionDay = day;
    this.volumes.clear();
  }

  private flow(
    kind: OptionFlow.Value['kind'],
    side: AggressorSide,
    prints: readonly Print[],
    openInterest: number | undefined,
  ): OptionFlow.Value {
    const first = prints[0].trade;
    const last = prints[prints.length - 1].trade;
    let size = 0;
    let notional = 0;
    const exchanges: string[] = [];
    const legSizes = new Map<string, number>();
    for (const { trade } of prints) {
      size += trade.size;
      notional += trade.price * trade.size;
      if (!exchanges.includes(trade.exchange) && exchanges.length < 32) exchanges.push(trade.exchange);
      legSizes.set(trade.symbol, (legSizes.get(trade.symbol) ?? 0) + trade.size);
    }
    const flow: OptionFlow.Value = {
      symbol: first.symbol,
      underlying: first.underlying,
      expiration: first.expiration,
      strike: first.strike,
      right: first.right,
      kind,
      side,
      premium: round(notional * this.multiplier, 2),
      size,
      price: round(notional / size, 4),
      exchanges,
      ts: last.ts,
    };
    if (legSizes.size >= 2) {
      const legs = [...legSizes].slice(0, 8);
      const divisor = legs.reduce((g, [, legSize]) => gcd(g, legSize), 0);
      const legSide = side === 'sell' ? 'sell' : 'buy';
      flow.legs = legs.map(([symbol, legSize]) => ({ symbol, side: legSide, ratio: legSize / divisor }));
    }
    const volume = this.volumes.get(first.symbol)?.volume;
    if (openInterest !== undefined && openInterest > 0 && volume !== undefined) {
      flow.volumeToOpenInterest = round(volume / openInterest, 4);
    }
    const underlyingPrice = this.underlyingPrices.get(first.underlying);
    if (underlyingPrice !== undefined) flow.underlyingPrice = underlyingPrice;
    return flow;
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
