import {
  dateOfDay,
  dayNumber,
  INDEX_ETF_EXPIRATIONS,
  listedExpirationDays,
  SINGLE_STOCK_EXPIRATIONS,
  type ExpirationRules,
} from './market-calendar';
import { INDEX_ETF_STRIKES, SINGLE_STOCK_STRIKES, StrikeGrid } from './strike-grid';

/**
 * What contracts exist: the chain selector asks this, not the source. The simulator answers from
 * listing rules (RuleBasedListing); a live source answers from the exchange's contract list.
 */
export interface ContractListing {
  /** Whether options on this underlying are listed at all. */
  lists(underlying: string): boolean;
  /** OCC option root of the underlying's contracts (usually the ticker itself). */
  optionRoot(underlying: string): string;
  /** Expirations ('YYYY-MM-DD') listed on the trade date, ascending, the trade date included if it is one. */
  expirations(underlying: string, tradeDate: string): readonly string[];
  /** The `count` listed strikes of that expiration nearest to `price`, ascending. */
  strikesAround(underlying: string, expiration: string, price: number, count: number): readonly number[];
}

/** How one underlying's options are listed. */
export interface ListedProduct {
  readonly expirations: ExpirationRules;
  readonly strikes: StrikeGrid;
  readonly optionRoot?: string;
}

export const INDEX_ETF_PRODUCT: ListedProduct = {
  expirations: INDEX_ETF_EXPIRATIONS,
  strikes: new StrikeGrid(INDEX_ETF_STRIKES),
};

export const SINGLE_STOCK_PRODUCT: ListedProduct = {
  expirations: SINGLE_STOCK_EXPIRATIONS,
  strikes: new StrikeGrid(SINGLE_STOCK_STRIKES),
};

/** Listing by the exchanges' rules: every expiration the calendar gives, every strike on the grid. */
export class RuleBasedListing implements ContractListing {
  /** One trade date per underlying is cached: a chain only ever asks about "today". */
  private readonly cache = new Map<string, { tradeDate: string; expirations: readonly string[] }>();

  constructor(private readonly products: ReadonlyMap<string, ListedProduct>) {}

  lists(underlying: string): boolean {
    return this.products.has(underlying);
  }

  optionRoot(underlying: string): string {
    return this.product(underlying).optionRoot ?? underlying;
  }

  expirations(underlying: string, tradeDate: string): readonly string[] {
    const cached = this.cache.get(underlying);
    if (cached?.tradeDate === tradeDate) return cached.expirations;
    const expirations = listedExpirationDays(this.product(underlying).expirations, dayNumber(tradeDate)).map(
      dateOfDay,
    );
    this.cache.set(underlying, { tradeDate, expirations });
    return expirations;
  }

  strikesAround(underlying: string, _expiration: string, price: number, count: number): readonly number[] {
    return this.product(underlying).strikes.strikesAround(price, count);
  }

  private product(underlying: string): ListedProduct {
    const product = this.products.get(underlying);
    if (!product) throw new RangeError(`no options are listed on ${underlying}`);
    return product;
  }
}
