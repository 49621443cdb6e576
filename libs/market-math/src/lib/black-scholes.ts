import { normalCdf, ONE_OVER_SQRT_TWO_PI } from './normal-distribution';

/** Which side of a European option: the right to buy (call) or to sell (put). */
export type OptionRight = 'call' | 'put';

/**
 * A price and its sensitivities, in the units a trader quotes them.
 *
 * - `price`: in the currency of the underlying, per unit of underlying (multiply by the
 *   contract multiplier, 100 for US equity options, for the contract's value).
 * - `delta`: ∂price/∂underlying (spot for Black-Scholes-Merton, forward for Black-76).
 * - `gamma`: ∂²price/∂underlying², per unit of underlying.
 * - `theta`: ∂price/∂t per calendar YEAR as time passes (usually negative); `thetaPerDay` is
 *   `theta / 365`, the one-calendar-day decay.
 * - `vega`: ∂price/∂σ per 1.00 of volatility (σ from 0.20 to 1.20); `vegaPerPoint` is
 *   `vega / 100`, per volatility point (0.20 to 0.21).
 * - `rho`: ∂price/∂r per 1.00 of the continuously compounded rate; `rhoPerPoint` is
 *   `rho / 100`, per 1% move (0.05 to 0.06). Black-Scholes-Merton holds the dividend yield
 *   fixed; Black-76 holds the forward fixed, so its rho is -T·price.
 */
export interface OptionGreeks {
  price: number;
  delta: number;
  gamma: number;
  theta: number;
  thetaPerDay: number;
  vega: number;
  vegaPerPoint: number;
  rho: number;
  rhoPerPoint: number;
}

/** A zeroed result object to be reused across calls, so the hot path allocates nothing. */
export function createOptionGreeks(): OptionGreeks {
  return { price: 0, delta: 0, gamma: 0, theta: 0, thetaPerDay: 0, vega: 0, vegaPerPoint: 0, rho: 0, rhoPerPoint: 0 };
}

export const CALENDAR_DAYS_PER_YEAR = 365;

function isPositiveFinite(value: number): boolean {
  return value > 0 && value < Number.POSITIVE_INFINITY;
}

function validInputs(underlying: number, strike: number, years: number, rate: number, carry: number, volatility: number): boolean {
  return (
    isPositiveFinite(underlying) &&
    isPositiveFinite(strike) &&
    years >= 0 &&
    years < Number.POSITIVE_INFINITY &&
    Number.isFinite(rate) &&
    Number.isFinite(carry) &&
    volatility >= 0 &&
    volatility < Number.POSITIVE_INFINITY
  );
}

/**
 * The generalised Black-Scholes formula with cost of carry b (Haug's notation): b = r - q for
 * a stock paying a continuous yield q, b = 0 for a future. With σ√T = 0 (expiry now or zero
 * volatility) the option is worth its discounted forward intrinsic value and the normal
 * terms collapse to indicators, so the same formulas give the limiting Greeks.
 */
function generalisedBlackScholes(
  right: OptionRight,
  underlying: number,
  strike: number,
  years: number,
  rate: number,
  carry: number,
  volatility: number,
  forwardRho: boolean,
  out: OptionGreeks,
): OptionGreeks {
  const isCall = right === 'call';
  const carryDiscount = Math.exp((carry - rate) * years);
  const discount = Math.exp(-rate * years);
  const totalVol = volatility * Math.sqrt(years);
  const sqrtYears = Math.sqrt(years);
  let nd1: number;
  let nd2: number;
  let density: number;
  if (totalVol > 0) {
    const d1 = (Math.log(underlying / strike) + (carry + 0.5 * volatility * volatility) * years) / totalVol;
    const d2 = d1 - totalVol;
    // For a put the signed arguments keep the small tail probabilities accurate.
    nd1 = normalCdf(isCall ? d1 : -d1);
    nd2 = normalCdf(isCall ? d2 : -d2);
    density = ONE_OVER_SQRT_TWO_PI * Math.exp(-0.5 * d1 * d1);
  } else {
    const forwardMoneyness = underlying * Math.exp(carry * years) - strike;
    const inTheMoney = isCall ? forwardMoneyness > 0 : forwardMoneyness < 0;
    nd1 = inTheMoney ? 1 : 0;
    nd2 = nd1;
    density = 0;
  }
  const sign = isCall ? 1 : -1;
  const underlyingLeg = underlying * carryDiscount * nd1;
  const strikeLeg = strike * discount * nd2;
  const price = sign * (underlyingLeg - strikeLeg);
  out.price = price > 0 ? price : 0;
  out.delta = sign * carryDiscount * nd1;
  const scaledDensity = underlying * carryDiscount * density;
  out.gamma = totalVol > 0 ? (carryDiscount * density) / (underlying * totalVol) : 0;
  out.vega = scaledDensity * sqrtYears;
  const decay = years > 0 ? (-scaledDensity * volatility) / (2 * sqrtYears) : 0;
  out.theta = decay - sign * ((carry - rate) * underlyingLeg + rate * strikeLeg);
  out.rho = forwardRho ? -years * out.price : sign * years * strikeLeg;
  out.thetaPerDay = out.theta / CALENDAR_DAYS_PER_YEAR;
  out.vegaPerPoint = out.vega / 100;
  out.rhoPerPoint = out.rho / 100;
  return out;
}

const scratch = createOptionGreeks();

/**
 * Black-Scholes-Merton price of a European option on a spot asset paying a continuous
 * dividend yield. `years` is the time to expiry in years (see `yearsToExpiry`), `rate` and
 * `dividendYield` are continuously compounded per year, `volatility` per sqrt(year)
 * (0.2 = 20%). Returns null for inputs no option can have (non-positive spot or strike,
 * negative time or volatility, non-finite numbers).
 */
export function bsmPrice(
  right: OptionRight,
  spot: number,
  strike: number,
  years: number,
  rate: number,
  dividendYield: number,
  volatility: number,
): number | null {
  const carry = rate - dividendYield;
  if (!validInputs(spot, strike, years, rate, carry, volatility)) return null;
  return generalisedBlackScholes(right, spot, strike, years, rate, carry, volatility, false, scratch).price;
}

/**
 * Black-Scholes-Merton price and Greeks written into `out` (reuse one object per thread of
 * work; nothing is allocated). Returns `out`, or null for invalid inputs (see `bsmPrice`),
 * in which case `out` is left untouched.
 */
export function bsmGreeks(
  right: OptionRight,
  spot: number,
  strike: number,
  years: number,
  rate: number,
  dividendYield: number,
  volatility: number,
  out: OptionGreeks = createOptionGreeks(),
): OptionGreeks | null {
  const carry = rate - dividendYield;
  if (!validInputs(spot, strike, years, rate, carry, volatility)) return null;
  return generalisedBlackScholes(right, spot, strike, years, rate, carry, volatility, false, out);
}

/**
 * Black-76 price of a European option on a forward or futures price, discounted at `rate`
 * to today. Units as for `bsmPrice`. Returns null for invalid inputs.
 */
export function black76Price(
  right: OptionRight,
  forward: number,
  strike: number,
  years: number,
  rate: number,
  volatility: number,
): number | null {
  if (!validInputs(forward, strike, years, rate, 0, volatility)) return null;
  return generalisedBlackScholes(right, forward, strike, years, rate, 0, volatility, true, scratch).price;
}

/**
 * Black-76 price and Greeks written into `out`; delta and gamma are with respect to the
 * forward, rho holds the forward fixed (-T·price). Returns null for invalid inputs.
 */
export function black76Greeks(
  right: OptionRight,
  forward: number,
  strike: number,
  years: number,
  rate: number,
  volatility: number,
  out: OptionGreeks = createOptionGreeks(),
): OptionGreeks | null {
  if (!validInputs(forward, strike, years, rate, 0, volatility)) return null;
  return generalisedBlackScholes(right, forward, strike, years, rate, 0, volatility, true, out);
}
