/**
 * The simulator's only door to option pricing (@tributary/market-math): one place to adapt if the
 * library's signatures move. Quotes are drawn from these prices, so an input no option can have
 * (which the library answers with null) prices at intrinsic value.
 */
import { bsmPrice as libraryBsmPrice, type OptionRight } from '@tributary/market-math';

export interface BsmInput {
  readonly right: OptionRight;
  readonly spot: number;
  readonly strike: number;
  /** Years to expiry. */
  readonly timeYears: number;
  /** Continuously compounded annual risk-free rate. */
  readonly rate: number;
  /** Continuous annual dividend yield. */
  readonly dividendYield: number;
  /** Annualised volatility (0.2 = 20%). */
  readonly vol: number;
}

/** Black-Scholes-Merton price with a continuous dividend yield. */
export function bsmPrice(input: BsmInput): number {
  const { right, spot, strike, timeYears, rate, dividendYield, vol } = input;
  const price = libraryBsmPrice(right, spot, strike, timeYears, rate, dividendYield, vol);
  if (price !== null) return price;
  return Math.max(0, right === 'call' ? spot - strike : strike - spot);
}
