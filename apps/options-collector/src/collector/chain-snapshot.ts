import type { OptionChainSnapshot } from '@tributary/contracts';
import { bsmGreeks, bsmImpliedVolatility, createOptionGreeks, yearsToExpiry } from '@tributary/market-math';
import type { VendorAnalytics } from '../simulator/market-source';
import type { ContractMarket } from './chain-book';

export interface ChainSnapshotInput {
  readonly underlying: string;
  /** Underlying price the implied volatilities and Greeks are computed from. */
  readonly underlyingPrice: number;
  /** Event time the snapshot describes, epoch ns. */
  readonly ts: string;
  readonly riskFreeRate: number;
  readonly dividendYield: number;
  /** Selected contracts in chain order (expiration, strike, call before put). */
  readonly contracts: readonly ContractMarket[];
  /** Session volume of a contract at `ts`. */
  readonly volumeOf: (market: ContractMarket) => number;
  readonly openInterestOf: (symbol: string) => number | undefined;
  /** The source's own IV and Greeks of a contract, when it has them (Alpaca), and the source's name. */
  readonly vendorOf?: (symbol: string) => VendorAnalytics | undefined;
  readonly vendorSource?: string;
}

const VENDOR_GREEKS = ['delta', 'gamma', 'theta', 'vega', 'rho'] as const;

/**
 * The vendor block of a snapshot row: the vendor's figures as it sent them, only the finite ones (and an
 * IV only when not negative), so one odd vendor value never costs the whole snapshot its topic.
 */
export function vendorBlock(source: string, analytics: VendorAnalytics | undefined): OptionChainSnapshot.VendorAnalytics | undefined {
  if (!analytics) return undefined;
  const block: { source: string; iv?: number; greeks?: Record<string, number> } = { source };
  if (analytics.iv !== undefined && Number.isFinite(analytics.iv) && analytics.iv >= 0) block.iv = analytics.iv;
  if (analytics.greeks) {
    let greeks: Record<string, number> | undefined;
    for (const name of VENDOR_GREEKS) {
      const value = analytics.greeks[name];
      if (value !== undefined && Number.isFinite(value)) (greeks ??= {})[name] = value;
    }
    if (greeks) block.greeks = greeks;
  }
  return block.iv === undefined && block.greeks === undefined ? undefined : block;
}

/** Significant digits kept for IV and Greeks: far below any quote's precision, and a smaller record. */
const SIGNIFICANT_DIGITS = 10;

function rounded(value: number): number {
  return value === 0 ? 0 : Number(value.toPrecision(SIGNIFICANT_DIGITS));
}

/**
 * Mid of a quote with an ask, else null. A quote with no bid (deep out of the money) has a mid of half
 * its ask, the convention of vendor chains; the solver returns null when that admits no volatility.
 */
export function midOf(bid: number, ask: number): number | null {
  return ask > 0 ? (bid + ask) / 2 : null;
}

/**
 * The chain snapshot of one underlying at one event time: each selected contract's NBBO, last print,
 * session volume and open interest, with the implied volatility of its mid (Black-Scholes-Merton with a
 * continuous dividend yield, years to 16:00 New York on the expiration day from the snapshot's event
 * time) and the Greeks at that volatility. Theta is per calendar day, vega and rho per percentage point,
 * as the OptionChainSnapshot contract states. With a vendor source, its own IV and Greeks ride along in
 * `vendor` (contract v2).
 */
export function buildChainSnapshot(input: ChainSnapshotInput): OptionChainSnapshot.Value {
  const greeks = createOptionGreeks();
  const spot = input.underlyingPrice;
  const contracts: OptionChainSnapshot.ChainContract[] = [];
  for (const market of input.contracts) {
    const { contract } = market;
    const row: OptionChainSnapshot.ChainContract = {
      symbol: contract.symbol,
      expiration: contract.expiration,
      strike: contract.strike,
      right: contract.right,
      bid: market.bid,
      ask: market.ask,
    };
    if (market.quoteTs !== undefined) {
      row.bidSize = market.bidSize;
      row.askSize = market.askSize;
    }
    const volume = input.volumeOf(market);
    if (volume > 0 && market.last !== undefined) row.last = market.last;
    row.volume = volume;
    const openInterest = input.openInterestOf(contract.symbol);
    if (openInterest !== undefined) row.openInterest = openInterest;

    const mid = midOf(market.bid, market.ask);
    const years = yearsToExpiry(contract.expiration, input.ts);
    if (mid !== null && years !== null && years > 0) {
      const iv = bsmImpliedVolatility(
        mid,
        contract.right,
        spot,
        contract.strike,
        years,
        input.riskFreeRate,
        input.dividendYield,
      );
      if (iv !== null && iv > 0) {
        row.iv = rounded(iv);
        const computed = bsmGreeks(
          contract.right,
          spot,
          contract.strike,
          years,
          input.riskFreeRate,
          input.dividendYield,
          iv,
          greeks,
        );
        if (computed !== null) {
          row.greeks = {
            delta: Math.max(-1, Math.min(1, rounded(computed.delta))),
            gamma: Math.max(0, rounded(computed.gamma)),
            theta: rounded(computed.thetaPerDay),
            vega: Math.max(0, rounded(computed.vegaPerPoint)),
            rho: rounded(computed.rhoPerPoint),
          };
        }
      }
    }
    if (input.vendorOf) {
      const vendor = vendorBlock(input.vendorSource ?? 'vendor', input.vendorOf(contract.symbol));
      if (vendor) row.vendor = vendor;
    }
    contracts.push(row);
  }
  return {
    underlying: input.underlying,
    underlyingPrice: spot,
    ts: input.ts,
    riskFreeRate: input.riskFreeRate,
    dividendYield: input.dividendYield,
    contracts,
  };
}
