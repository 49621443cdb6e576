import { formatOccSymbol, isCalendarDate, type OccContract, type OptionRight, parseOccSymbol } from '@tributary/contracts';
import type { ContractListing } from '../../chain/contract-listing';
import type { AlpacaOptionContract } from './alpaca-rest';

/** A listed contract, its symbol in the compact OCC form the topics use. */
export interface ListedContract extends OccContract {
  readonly symbol: string;
  readonly underlying: string;
  readonly openInterest: number | undefined;
}

/** Why a contract of the vendor's list was not taken. */
export interface RefusedContract {
  readonly symbol: string;
  readonly reason: string;
}

/** Compact OCC form of a padded ("SPY   250321C00500000") or compact symbol; undefined when it is not one. */
export function normaliseOccSymbol(symbol: string): string | undefined {
  const parsed = parseOccSymbol(symbol.trim().toUpperCase());
  return parsed ? formatOccSymbol(parsed) : undefined;
}

interface UnderlyingListing {
  readonly root: string;
  /** Expiration -> strikes listed (either right), ascending. */
  readonly strikes: Map<string, number[]>;
  readonly expirations: string[];
}

/**
 * The contracts Alpaca lists, as the chain selector asks for them: the expirations and strikes of each
 * underlying's standard contracts (100 shares, the root most of its contracts use; adjusted contracts
 * after a corporate action are left out), open interest per contract, and the underlying of each root.
 * Replaced whole on every refresh of the contract list.
 */
export class AlpacaContractListing implements ContractListing {
  private underlyings = new Map<string, UnderlyingListing>();
  private contracts = new Map<string, ListedContract>();
  private roots = new Map<string, string>();

  /** @param followed the underlyings the collector follows: listed from the start so selection can begin. */
  constructor(private readonly followed: readonly string[]) {}

  get size(): number {
    return this.contracts.size;
  }

  /** Replaces the listing with the vendor's contract list; returns the contracts refused and why. */
  load(list: readonly AlpacaOptionContract[]): RefusedContract[] {
    const refused: RefusedContract[] = [];
    const accepted: ListedContract[] = [];
    for (const raw of list) {
      const contract = parseContract(raw);
      if (typeof contract === 'string') refused.push({ symbol: String(raw?.symbol), reason: contract });
      else accepted.push(contract);
    }
    const rootCounts = new Map<string, Map<string, number>>();
    for (const contract of accepted) {
      const counts = rootCounts.get(contract.underlying) ?? new Map<string, number>();
      counts.set(contract.root, (counts.get(contract.root) ?? 0) + 1);
      rootCounts.set(contract.underlying, counts);
    }
    const mainRoot = new Map<string, string>();
    for (const [underlying, counts] of rootCounts) {
      const best = [...counts].sort((a, b) => b[1] - a[1] || (a[0] === underlying ? -1 : b[0] === underlying ? 1 : 0))[0];
      mainRoot.set(underlying, best[0]);
    }
    const underlyings = new Map<string, UnderlyingListing>();
    const contracts = new Map<string, ListedContract>();
    const roots = new Map<string, string>();
    for (const contract of accepted) {
      roots.set(contract.root, contract.underlying);
      contracts.set(contract.symbol, contract);
      if (mainRoot.get(contract.underlying) !== contract.root) continue;
      let listing = underlyings.get(contract.underlying);
      if (!listing) {
        listing = { root: contract.root, strikes: new Map(), expirations: [] };
        underlyings.set(contract.underlying, listing);
      }
      const strikes = listing.strikes.get(contract.expiration) ?? [];
      strikes.push(contract.strike);
      listing.strikes.set(contract.expiration, strikes);
    }
    for (const listing of underlyings.values()) {
      for (const [expiration, strikes] of listing.strikes) {
        listing.strikes.set(expiration, [...new Set(strikes)].sort((a, b) => a - b));
      }
      listing.expirations.push(...[...listing.strikes.keys()].sort());
    }
    this.underlyings = underlyings;
    this.contracts = contracts;
    this.roots = roots;
    return refused;
  }

  lists(underlying: string): boolean {
    return this.followed.includes(underlying) || this.underlyings.has(underlying);
  }

  optionRoot(underlying: string): string {
    return this.underlyings.get(underlying)?.root ?? underlying;
  }

  expirations(underlying: string, tradeDate: string): readonly string[] {
    const expirations = this.underlyings.get(underlying)?.expirations ?? [];
    return expirations.filter((expiration) => expiration >= tradeDate);
  }

  strikesAround(underlying: string, expiration: string, price: number, count: number): readonly number[] {
    const strikes = this.underlyings.get(underlying)?.strikes.get(expiration);
    if (!strikes || strikes.length === 0 || count <= 0) return [];
    // First strike at or above the price, then widen towards whichever side is nearer.
    let low = 0;
    let high = strikes.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (strikes[mid] < price) low = mid + 1;
      else high = mid;
    }
    let below = low - 1;
    let above = low;
    const picked: number[] = [];
    while (picked.length < count && (below >= 0 || above < strikes.length)) {
      const takeBelow = above >= strikes.length || (below >= 0 && price - strikes[below] <= strikes[above] - price);
      if (takeBelow) picked.push(strikes[below--]);
      else picked.push(strikes[above++]);
    }
    return picked.sort((a, b) => a - b);
  }

  /** The listed contract of a compact OCC symbol. */
  contract(symbol: string): ListedContract | undefined {
    return this.contracts.get(symbol);
  }

  openInterest(symbol: string): number | undefined {
    return this.contracts.get(symbol)?.openInterest;
  }

  /** Underlying of an option root ("SPXW" -> "SPX"); the root itself when unknown. */
  underlyingOfRoot(root: string): string {
    return this.roots.get(root) ?? root;
  }
}

/** A contract of the vendor's list, or the reason it cannot be used. */
function parseContract(raw: AlpacaOptionContract): ListedContract | string {
  if (typeof raw !== 'object' || raw === null) return 'not an object';
  if (typeof raw.symbol !== 'string') return 'symbol missing';
  const terms = parseOccSymbol(raw.symbol.trim().toUpperCase());
  if (!terms) return `symbol "${raw.symbol}" is not an OCC option symbol`;
  const strike = decimalOf(raw.strike_price);
  if (strike === undefined || !(strike > 0)) return `strike_price "${String(raw.strike_price)}" is not a positive number`;
  if (!isCalendarDate(raw.expiration_date)) return `expiration_date "${String(raw.expiration_date)}" is not a date`;
  const right: OptionRight | undefined = raw.type === 'call' || raw.type === 'put' ? raw.type : undefined;
  if (!right) return `type "${String(raw.type)}" is neither call nor put`;
  if (terms.expiration !== raw.expiration_date || terms.right !== right || Math.round(terms.strike * 1000) !== Math.round(strike * 1000)) {
    return `symbol ${raw.symbol} disagrees with expiration_date ${raw.expiration_date}, type ${raw.type}, strike_price ${raw.strike_price}`;
  }
  if (typeof raw.underlying_symbol !== 'string' || raw.underlying_symbol === '') return 'underlying_symbol missing';
  if (raw.size !== undefined && decimalOf(raw.size) !== 100) return `size ${raw.size} is not 100 shares (an adjusted contract)`;
  const openInterest = raw.open_interest === null || raw.open_interest === undefined ? undefined : decimalOf(raw.open_interest);
  return {
    ...terms,
    symbol: formatOccSymbol(terms),
    underlying: raw.underlying_symbol.toUpperCase(),
    openInterest: openInterest !== undefined && Number.isInteger(openInterest) && openInterest >= 0 ? openInterest : undefined,
  };
}

/** A number sent as a decimal string (or, leniently, as a number). */
function decimalOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || !/^-?(\d+\.?\d*|\.\d+)$/.test(value.trim())) return undefined;
  return Number(value);
}
