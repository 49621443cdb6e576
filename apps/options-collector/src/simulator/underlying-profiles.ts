import { INDEX_ETF_PRODUCT, SINGLE_STOCK_PRODUCT, type ListedProduct } from '../chain/contract-listing';

/** How one underlying moves, trades and is optioned in the simulation. */
export interface UnderlyingProfile {
  readonly symbol: string;
  readonly initialPrice: number;
  /** Annualised volatility in the normal regime. */
  readonly volatility: number;
  /** Continuous dividend yield. */
  readonly dividendYield: number;
  /** Merton jumps: expected jumps per year in the normal regime, and the log jump size's mean and stdev. */
  readonly jumpsPerYear: number;
  readonly jumpMean: number;
  readonly jumpStdDev: number;
  /**
   * Volatility smile in moneyness m = ln(K/F) / (atm * sqrt(T)): iv = atm * (1 + skew*m + smile*m^2).
   * Equity skew is negative (puts richer than calls).
   */
  readonly skew: number;
  readonly smile: number;
  /** Relative share of the event stream. */
  readonly activity: number;
  /** Consolidated tape of the underlying's quotes and trades. */
  readonly tape: 'A' | 'B' | 'C';
  readonly product: ListedProduct;
}

/** The default underlyings, priced near their early-2025 levels. */
export const DEFAULT_UNDERLYINGS: readonly UnderlyingProfile[] = [
  {
    symbol: 'SPY', initialPrice: 575, volatility: 0.14, dividendYield: 0.013, jumpsPerYear: 4, jumpMean: -0.01,
    jumpStdDev: 0.015, skew: -0.35, smile: 0.12, activity: 5, tape: 'B', product: INDEX_ETF_PRODUCT,
  },
  {
    symbol: 'QQQ', initialPrice: 490, volatility: 0.18, dividendYield: 0.006, jumpsPerYear: 4, jumpMean: -0.012,
    jumpStdDev: 0.02, skew: -0.3, smile: 0.12, activity: 4, tape: 'C', product: INDEX_ETF_PRODUCT,
  },
  {
    symbol: 'AAPL', initialPrice: 225, volatility: 0.25, dividendYield: 0.0045, jumpsPerYear: 6, jumpMean: 0,
    jumpStdDev: 0.03, skew: -0.2, smile: 0.15, activity: 3, tape: 'C', product: SINGLE_STOCK_PRODUCT,
  },
  {
    symbol: 'TSLA', initialPrice: 260, volatility: 0.55, dividendYield: 0, jumpsPerYear: 10, jumpMean: 0,
    jumpStdDev: 0.05, skew: -0.05, smile: 0.2, activity: 3, tape: 'C', product: SINGLE_STOCK_PRODUCT,
  },
  {
    symbol: 'NVDA', initialPrice: 120, volatility: 0.5, dividendYield: 0.0003, jumpsPerYear: 8, jumpMean: 0,
    jumpStdDev: 0.04, skew: -0.1, smile: 0.18, activity: 3, tape: 'C', product: SINGLE_STOCK_PRODUCT,
  },
  {
    symbol: 'IWM', initialPrice: 220, volatility: 0.2, dividendYield: 0.012, jumpsPerYear: 4, jumpMean: -0.01,
    jumpStdDev: 0.02, skew: -0.3, smile: 0.12, activity: 2, tape: 'B', product: INDEX_ETF_PRODUCT,
  },
];

/** A volatility regime of the Markov-switching process. */
export interface VolatilityRegime {
  readonly name: string;
  /** Multiplies the underlying's volatility. */
  readonly volMultiplier: number;
  /** Multiplies the underlying's jump intensity. */
  readonly jumpMultiplier: number;
  /** Mean time spent in the regime before switching, in trading days. */
  readonly meanDurationDays: number;
}

export const DEFAULT_REGIMES: readonly VolatilityRegime[] = [
  { name: 'calm', volMultiplier: 0.75, jumpMultiplier: 0.5, meanDurationDays: 15 },
  { name: 'normal', volMultiplier: 1, jumpMultiplier: 1, meanDurationDays: 10 },
  { name: 'stressed', volMultiplier: 1.9, jumpMultiplier: 4, meanDurationDays: 3 },
];
