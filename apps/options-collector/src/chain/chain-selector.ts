import { formatOccSymbol, millisOfNanos, type OptionRight } from '@tributary/contracts';
import type { ContractListing } from './contract-listing';
import { dateOfDay, dayNumber, easternDay, easternTimeMs, sessionCloseMs } from './market-calendar';

export interface ChainSelectionConfig {
  /** Strikes kept around the underlying price in each expiration (calls and puts of each). */
  readonly strikesPerExpiration: number;
  /** Expirations further out than this many calendar days are not selected (0 = same-day only). */
  readonly maxDaysToExpiry: number;
  /** Plan limit on option subscriptions, across all underlyings. */
  readonly maxContracts: number;
  /** Rights selected; both by default. */
  readonly rights?: readonly OptionRight[];
  /**
   * The chain re-centres once the underlying is more than (0.5 + this) strike steps from the price it
   * was last centred on; the margin keeps a price oscillating around a midpoint from churning contracts.
   */
  readonly recentreHysteresis?: number;
}

export interface SelectedContract {
  readonly symbol: string;
  readonly underlying: string;
  readonly expiration: string;
  readonly strike: number;
  readonly right: OptionRight;
}

/** What to subscribe and unsubscribe to go from the previous selection to the new one. */
export interface SelectionChange {
  readonly subscribe: readonly SelectedContract[];
  readonly unsubscribe: readonly string[];
}

const NO_CHANGE: SelectionChange = Object.freeze({ subscribe: [], unsubscribe: [] });

interface UnderlyingChain {
  readonly underlying: string;
  price: number | undefined;
  /** Price the selection was centred on, and how far the price may move before re-centring. */
  centre: number;
  band: number;
  /** Live expirations (not expired, within the horizon), ascending. */
  expirations: readonly string[];
  /** Event time (ms) at which the expirations must be recomputed: the next expiry or the next day. */
  rollAtMs: number;
  quota: number;
  selected: Map<string, SelectedContract>;
}

/**
 * Chooses which option contracts to follow: per underlying, the strikes nearest the price in every
 * expiration up to a horizon, within a global subscription limit. It is fed event time and prices and
 * answers with the difference to apply, so a source subscribes only what changed.
 *
 * Priority under the limit: the limit is shared fairly between underlyings (an underlying needing less
 * than its share leaves the rest to the others); within an underlying, the nearest expiration comes
 * first and, within an expiration, the strikes nearest the price, call before put.
 */
export class ChainSelector {
  private readonly chains = new Map<string, UnderlyingChain>();
  private readonly rights: readonly OptionRight[];
  private readonly hysteresis: number;
  /** Latest event time seen, ms: chains added later start from it. */
  private nowMs = 0;

  constructor(
    private readonly listing: ContractListing,
    private readonly config: ChainSelectionConfig,
  ) {
    if (!(config.strikesPerExpiration >= 1)) throw new RangeError('strikesPerExpiration must be at least 1');
    if (!(config.maxDaysToExpiry >= 0)) throw new RangeError('maxDaysToExpiry must be 0 or more');
    if (!(config.maxContracts >= 0)) throw new RangeError('maxContracts must be 0 or more');
    this.rights = config.rights ?? ['call', 'put'];
    this.hysteresis = config.recentreHysteresis ?? 0.25;
  }

  /** Underlyings followed, in the order they were added. */
  get underlyings(): string[] {
    return [...this.chains.keys()];
  }

  /** Contracts selected across all underlyings. */
  get size(): number {
    let size = 0;
    for (const chain of this.chains.values()) size += chain.selected.size;
    return size;
  }

  /** The selected contracts of one underlying: nearest expiration first, then strike, call before put. */
  selected(underlying: string): SelectedContract[] {
    const chain = this.chains.get(underlying);
    if (!chain) return [];
    return [...chain.selected.values()].sort(
      (a, b) =>
        (a.expiration < b.expiration ? -1 : a.expiration > b.expiration ? 1 : 0) ||
        a.strike - b.strike ||
        (a.right === b.right ? 0 : a.right === 'call' ? -1 : 1),
    );
  }

  isSelected(symbol: string, underlying: string): boolean {
    return this.chains.get(underlying)?.selected.has(symbol) ?? false;
  }

  /** Starts following an underlying; its contracts are selected once its first price arrives. */
  addUnderlying(underlying: string): void {
    if (this.chains.has(underlying)) return;
    if (!this.listing.lists(underlying)) throw new RangeError(`no options are listed on ${underlying}`);
    this.chains.set(underlying, {
      underlying,
      price: undefined,
      centre: Number.NaN,
      band: 0,
      expirations: [],
      rollAtMs: Number.NEGATIVE_INFINITY,
      quota: 0,
      selected: new Map(),
    });
  }

  /** Stops following an underlying: all its contracts are to be unsubscribed, the others may gain room. */
  removeUnderlying(underlying: string): SelectionChange {
    const chain = this.chains.get(underlying);
    if (!chain) return NO_CHANGE;
    this.chains.delete(underlying);
    const unsubscribe = [...chain.selected.keys()];
    const others = this.rebalance();
    return { subscribe: others.subscribe, unsubscribe: [...unsubscribe, ...others.unsubscribe] };
  }

  /**
   * A new underlying price at event time `ts` (epoch ns). Cheap when the price stays near the centre and
   * no expiry or day boundary passed, which is nearly always.
   */
  onUnderlyingPrice(underlying: string, price: number, ts: string): SelectionChange {
    const chain = this.chains.get(underlying);
    if (!chain || !(price > 0)) return NO_CHANGE;
    const tsMs = millisOfNanos(ts);
    if (tsMs > this.nowMs) this.nowMs = tsMs;
    const firstPrice = chain.price === undefined;
    chain.price = price;
    if (this.nowMs >= chain.rollAtMs) return this.onTime(ts);
    // A chain's first price changes how much it needs, hence everyone's share of the limit.
    if (firstPrice) return this.rebalance();
    if (Math.abs(price - chain.centre) < chain.band) return NO_CHANGE;
    // Between rolls a chain wants the same number of contracts, so its quota stands.
    return this.reselect(chain, this.candidates(chain));
  }

  /** Event time passed (any event will do): drops expired contracts and lists new expirations at the roll. */
  onTime(ts: string): SelectionChange {
    const tsMs = millisOfNanos(ts);
    if (tsMs > this.nowMs) this.nowMs = tsMs;
    let rolled = false;
    for (const chain of this.chains.values()) {
      if (this.nowMs >= chain.rollAtMs) {
        this.roll(chain);
        rolled = true;
      }
    }
    return rolled ? this.rebalance() : NO_CHANGE;
  }

  /** Recomputes the live expirations of a chain at the current event time. */
  private roll(chain: UnderlyingChain): void {
    const today = easternDay(this.nowMs);
    const horizon = dateOfDay(today + this.config.maxDaysToExpiry);
    const live: string[] = [];
    let nextExpiryMs = Number.POSITIVE_INFINITY;
    for (const expiration of this.listing.expirations(chain.underlying, dateOfDay(today))) {
      if (expiration > horizon) break;
      const closeMs = sessionCloseMs(dayNumber(expiration));
      if (closeMs <= this.nowMs) continue;
      live.push(expiration);
      if (closeMs < nextExpiryMs) nextExpiryMs = closeMs;
    }
    chain.expirations = live;
    chain.rollAtMs = Math.min(nextExpiryMs, easternTimeMs(today + 1, 0));
  }

  /** Shares the limit between underlyings (water-filling) and reselects every chain whose quota moved. */
  private rebalance(): SelectionChange {
    const demands = [...this.chains.values()].map((chain) => ({
      chain,
      wanted: chain.price === undefined ? [] : this.candidates(chain),
    }));
    const byNeed = [...demands].sort(
      (a, b) => a.wanted.length - b.wanted.length || (a.chain.underlying < b.chain.underlying ? -1 : 1),
    );
    let remaining = this.config.maxContracts;
    byNeed.forEach(({ chain, wanted }, index) => {
      const share = Math.floor(remaining / (byNeed.length - index));
      chain.quota = Math.min(wanted.length, share);
      remaining -= chain.quota;
    });
    const subscribe: SelectedContract[] = [];
    const unsubscribe: string[] = [];
    for (const { chain, wanted } of demands) {
      const change = this.reselect(chain, wanted);
      subscribe.push(...change.subscribe);
      unsubscribe.push(...change.unsubscribe);
    }
    return subscribe.length === 0 && unsubscribe.length === 0 ? NO_CHANGE : { subscribe, unsubscribe };
  }

  /** Every contract the chain would want without a limit, in priority order. */
  private candidates(chain: UnderlyingChain): SelectedContract[] {
    const price = chain.price;
    if (price === undefined) return [];
    const root = this.listing.optionRoot(chain.underlying);
    const contracts: SelectedContract[] = [];
    for (const expiration of chain.expirations) {
      const strikes = [
        ...this.listing.strikesAround(chain.underlying, expiration, price, this.config.strikesPerExpiration),
      ].sort((a, b) => Math.abs(a - price) - Math.abs(b - price) || a - b);
      for (const strike of strikes) {
        for (const right of this.rights) {
          contracts.push({
            symbol: formatOccSymbol({ root, expiration, right, strike }),
            underlying: chain.underlying,
            expiration,
            strike,
            right,
          });
        }
      }
    }
    return contracts;
  }

  private reselect(chain: UnderlyingChain, candidates: readonly SelectedContract[]): SelectionChange {
    const next = new Map<string, SelectedContract>();
    for (let i = 0; i < candidates.length && next.size < chain.quota; i++) {
      next.set(candidates[i].symbol, candidates[i]);
    }
    const subscribe: SelectedContract[] = [];
    const unsubscribe: string[] = [];
    for (const [symbol, contract] of next) if (!chain.selected.has(symbol)) subscribe.push(contract);
    for (const symbol of chain.selected.keys()) if (!next.has(symbol)) unsubscribe.push(symbol);
    chain.selected = next;
    this.recentre(chain);
    return subscribe.length === 0 && unsubscribe.length === 0 ? NO_CHANGE : { subscribe, unsubscribe };
  }

  /** Records the centre and how far the price may move before the nearest strikes change. */
  private recentre(chain: UnderlyingChain): void {
    const price = chain.price;
    if (price === undefined || chain.expirations.length === 0) {
      chain.centre = Number.NaN;
      chain.band = 0;
      return;
    }
    const strikes = this.listing.strikesAround(chain.underlying, chain.expirations[0], price, 2);
    const step = strikes.length === 2 ? strikes[1] - strikes[0] : 0;
    chain.centre = price;
    chain.band = step * (0.5 + this.hysteresis);
  }
}
