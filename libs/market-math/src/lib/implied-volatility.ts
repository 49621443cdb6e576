// Implied volatility in the normalised Black frame of P. Jäckel ("By Implication", Wilmott 2006;
// "Let's Be Rational", Wilmott 2015). With x = ln(F/K) and total volatility s = σ√T, an
// undiscounted price divided by √(F·K) depends on x and s only:
//
//   b(x, s) = e^{x/2}·Φ(x/s + s/2) − e^{−x/2}·Φ(x/s − s/2)            (call)
//
// In-the-money options are reduced to their out-of-the-money counterpart by put-call parity,
// puts to calls by b_put(x, s) = b_call(−x, s), so the solver only ever sees x ≤ 0 and
// 0 < β < e^{x/2}. Starting points come from Jäckel's four branches around the inflection point
// s_c = √(2|x|): an asymptotic map for very small prices, a cubic in (β, s) either side of
// s_c, and an asymptotic map for prices near the upper bound. Each branch then takes
// third-order Householder steps on an objective that is close to linear there, guarded by a
// bracket that falls back to bisection, so the answer is always finite.

import {
  approximateInverseNormalCdf,
  erfcx,
  normalCdf,
  ONE_OVER_SQRT_TWO_PI,
} from './normal-distribution';
import type { OptionRight } from './black-scholes';

const ONE_OVER_SQRT_TWO = 0.7071067811865476;
const SQRT_THREE = 1.7320508075688772;
const TWO_PI_OVER_SQRT_27 = 1.2091995761561452;
const EPSILON = Number.EPSILON;
const MAX_ITERATIONS = 64;
// A Householder step this small (relative) leaves an error of the order of its cube: done.
const CONVERGED_STEP = 1e-6;
// A price within this relative distance of intrinsic value is taken as being at intrinsic
// value (implied volatility 0) rather than below it: it is the rounding of a price computed
// in floating point, not an arbitrage.
const INTRINSIC_ROUNDING = 16 * EPSILON;

/** e^{x/2} − e^{−x/2}: the normalised intrinsic value of a call when x > 0. */
function normalisedIntrinsic(x: number): number {
  return 2 * Math.sinh(0.5 * x);
}

/**
 * The normalised Black call price b(x, s) = (undiscounted call) / √(F·K) for x = ln(F/K) and
 * total volatility s = σ√T.
 */
export function normalisedBlackCall(x: number, s: number): number {
  if (x > 0) return normalisedIntrinsic(x) + normalisedBlackCall(-x, s);
  if (!(s > 0)) return 0;
  const h = x / s;
  const t = 0.5 * s;
  let b: number;
  if (h + t > 0.85) {
    // The first term dominates: the plain formula keeps all its digits.
    b = Math.exp(0.5 * x) * normalCdf(h + t) - Math.exp(-0.5 * x) * normalCdf(h - t);
  } else {
    // Both terms small: factor out their common exp(−(h²+t²)/2) so nothing underflows.
    b =
      0.5 *
      Math.exp(-0.5 * (h * h + t * t)) *
      (erfcx(-ONE_OVER_SQRT_TWO * (h + t)) - erfcx(-ONE_OVER_SQRT_TWO * (h - t)));
  }
  return b > 0 ? b : 0;
}

/** ∂b/∂s, the normalised vega. */
function normalisedVega(x: number, s: number): number {
  if (!(s > 0)) return 0;
  const h = x / s;
  const t = 0.5 * s;
  return ONE_OVER_SQRT_TWO_PI * Math.exp(-0.5 * (h * h + t * t));
}

/** The s at which Jäckel's lower asymptotic map f(s) = (2π|x|/√27)·Φ(−|x|/(√3·s))³ equals f. */
function inverseLowerMap(x: number, f: number): number {
  const ax = Math.abs(x);
  return ax / (-SQRT_THREE * approximateInverseNormalCdf(Math.cbrt(f / (TWO_PI_OVER_SQRT_27 * ax))));
}

/** The cubic through (b0, s0) and (b1, s1) with slopes ds/db = 1/v0 and 1/v1, at beta. */
function hermiteGuess(beta: number, b0: number, b1: number, s0: number, s1: number, v0: number, v1: number): number {
  const width = b1 - b0;
  if (!(width > 0)) return 0.5 * (s0 + s1);
  const t = (beta - b0) / width;
  const t2 = t * t;
  const t3 = t2 * t;
  const guess =
    (2 * t3 - 3 * t2 + 1) * s0 +
    (t3 - 2 * t2 + t) * (width / v0) +
    (-2 * t3 + 3 * t2) * s1 +
    (t3 - t2) * (width / v1);
  // Where vega is tiny at an end the cubic can overshoot; a chord is always inside.
  return guess > s0 && guess < s1 ? guess : s0 + t * (s1 - s0);
}

// Vega of the last `outOfTheMoneyCallAndVega` evaluation: both share exp(−(h²+t²)/2), and a
// module-level slot returns the second value without allocating.
let lastVega = 0;

/** b(x, s) for x ≤ 0, s > 0, leaving ∂b/∂s in `lastVega`. */
function outOfTheMoneyCallAndVega(x: number, s: number): number {
  const h = x / s;
  const t = 0.5 * s;
  const common = Math.exp(-0.5 * (h * h + t * t));
  lastVega = ONE_OVER_SQRT_TWO_PI * common;
  const b =
    h + t > 0.85
      ? Math.exp(0.5 * x) * normalCdf(h + t) - Math.exp(-0.5 * x) * normalCdf(h - t)
      : 0.5 * common * (erfcx(-ONE_OVER_SQRT_TWO * (h + t)) - erfcx(-ONE_OVER_SQRT_TWO * (h - t)));
  return b > 0 ? b : 0;
}

const OBJECTIVE_LINEAR = 0;
const OBJECTIVE_LOWER = 1;
const OBJECTIVE_UPPER = 2;

/**
 * Total implied volatility s = σ√T of an out-of-the-money call in the normalised frame:
 * x ≤ 0 and 0 < beta < e^{x/2}. Always returns a finite s ≥ 0.
 */
function solveOutOfTheMoneyCall(beta: number, x: number): number {
  const bMax = Math.exp(0.5 * x);
  let s: number;
  let sLeft = 0;
  let sRight = Number.POSITIVE_INFINITY;
  let objective = OBJECTIVE_LINEAR;

  const sC = Math.sqrt(-2 * x);
  const bC = sC > 0 ? outOfTheMoneyCallAndVega(x, sC) : 0;
  const vC = sC > 0 ? lastVega : 0;
  if (beta < bC) {
    const sL = sC - bC / vC;
    const bL = sL > 0 ? normalisedBlackCall(x, sL) : 0;
    if (beta < bL) {
      // Lowest branch: interpolate the asymptotic map quadratically from f(0) = 0, f'(0) = 1.
      const fL = TWO_PI_OVER_SQRT_27 * -x * Math.pow(normalCdf(x / (SQRT_THREE * sL)), 3);
      const t = beta / bL;
      const f = (fL * t + bL * (1 - t)) * t;
      s = inverseLowerMap(x, f);
      sRight = sL;
      objective = OBJECTIVE_LOWER;
    } else {
      const lo = sL > 0 ? sL : 0;
      s = hermiteGuess(beta, bL, bC, lo, sC, lo > 0 ? normalisedVega(x, lo) : Number.POSITIVE_INFINITY, vC);
      sLeft = lo;
      sRight = sC;
    }
  } else {
    const sH = vC > Number.MIN_VALUE ? sC + (bMax - bC) / vC : sC;
    const bH = normalisedBlackCall(x, sH);
    if (beta <= bH) {
      s = hermiteGuess(beta, bC, bH, sC, sH, vC, normalisedVega(x, sH));
      sLeft = sC;
      sRight = sH;
    } else {
      // Highest branch: the upper map f(s) = Φ(−s/2) interpolated quadratically from
      // f(bH) and f(bMax) = 0 with f'(bMax) = −1/2.
      const fH = normalCdf(-0.5 * sH);
      const width = bMax - bH;
      const t = (beta - bH) / width;
      const f = (fH * (1 - t) + 0.5 * width * t) * (1 - t);
      s = -2 * approximateInverseNormalCdf(f);
      sLeft = sH;
      if (beta > 0.5 * bMax) objective = OBJECTIVE_UPPER;
    }
  }
  if (!(s > sLeft && s < sRight)) s = sRight < Number.POSITIVE_INFINITY ? 0.5 * (sLeft + sRight) : 2 * sLeft + 1;

  const lnBeta = Math.log(beta);
  const upperGap = bMax - beta;
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    const b = outOfTheMoneyCallAndVega(x, s);
    const vega = lastVega;
    if (b > beta) sRight = s;
    else if (b < beta) sLeft = s;
    else return s;
    let ds = Number.NaN;
    if (vega > 0) {
      const h = x / s;
      const halleyB = (h * h) / s - 0.25 * s; // b''/b'
      const hh3B = halleyB * halleyB - 3 * (h / s) * (h / s) - 0.25; // b'''/b'
      let newton: number;
      let halley: number;
      let hh3: number;
      if (objective === OBJECTIVE_LOWER && b > 0) {
        // g(s) = 1/ln b(s) − 1/ln β, nearly linear where b is exponentially small.
        const lnB = Math.log(b);
        const vOverB = vega / b;
        const k = 1 + 2 / lnB;
        newton = (((lnBeta - lnB) * lnB) / lnBeta) / vOverB;
        halley = halleyB - vOverB * k;
        hh3 = hh3B + 2 * vOverB * vOverB * (1 + (3 / lnB) * (1 + 1 / lnB)) - 3 * halleyB * vOverB * k;
      } else if (objective === OBJECTIVE_UPPER && bMax - b > 0) {
        // g(s) = ln(bMax − β) − ln(bMax − b(s)), nearly linear as b approaches its bound.
        const gap = bMax - b;
        const gPrime = vega / gap;
        newton = Math.log(gap / upperGap) / gPrime;
        halley = halleyB + gPrime;
        hh3 = hh3B + gPrime * (2 * gPrime + 3 * halleyB);
      } else {
        newton = (beta - b) / vega;
        halley = halleyB;
        hh3 = hh3B;
      }
      ds = (newton * (1 + 0.5 * halley * newton)) / (1 + newton * (halley + (hh3 * newton) / 6));
      if (ds < -0.5 * s) ds = -0.5 * s;
    }
    const next = s + ds;
    if (next > sLeft && next < sRight) {
      s = next;
      if (Math.abs(ds) <= CONVERGED_STEP * s) {
        return s;
      }
    } else {
      // The step left the bracket (or was not a number): bisect instead.
      const mid = sRight < Number.POSITIVE_INFINITY ? 0.5 * (sLeft + sRight) : 2 * sLeft + 1;
      if (!(mid > sLeft && mid < sRight) || sRight - sLeft <= EPSILON * mid) return mid > 0 ? mid : s;
      s = mid;
    }
  }
  return s;
}

/**
 * Total implied volatility σ√T from a normalised price β = (undiscounted price)/√(F·K) at
 * log-moneyness x = ln(F/K). Returns 0 at intrinsic value and null outside the bounds
 * intrinsic ≤ β < upper bound (e^{x/2} for a call, e^{−x/2} for a put).
 */
export function normalisedImpliedVolatility(beta: number, x: number, right: OptionRight): number | null {
  if (!(beta >= 0) || !Number.isFinite(beta) || !Number.isFinite(x)) return null;
  const theta = right === 'call' ? 1 : -1;
  const upper = Math.exp(0.5 * theta * x);
  if (beta >= upper) return null;
  let timeValue = beta;
  if (theta * x > 0) {
    const intrinsic = normalisedIntrinsic(Math.abs(x));
    if (beta < intrinsic * (1 - INTRINSIC_ROUNDING)) return null;
    timeValue = beta - intrinsic;
  }
  if (!(timeValue > 0)) return 0;
  // Subnormal time value: no digits left to solve on.
  if (timeValue < Number.MIN_VALUE * 4503599627370496) return 0;
  const otmX = -Math.abs(x);
  if (timeValue >= Math.exp(0.5 * otmX)) return null;
  return solveOutOfTheMoneyCall(timeValue, otmX);
}

function impliedFromForward(
  price: number,
  right: OptionRight,
  logMoneyness: number,
  sqrtForwardTimesStrike: number,
  discount: number,
  years: number,
): number | null {
  const beta = price / discount / sqrtForwardTimesStrike;
  const s = normalisedImpliedVolatility(beta, logMoneyness, right);
  if (s === null) return null;
  const sigma = s / Math.sqrt(years);
  return Number.isFinite(sigma) ? sigma : null;
}

function validMarket(price: number, underlying: number, strike: number, years: number, rate: number): boolean {
  return (
    price >= 0 &&
    price < Number.POSITIVE_INFINITY &&
    underlying > 0 &&
    underlying < Number.POSITIVE_INFINITY &&
    strike > 0 &&
    strike < Number.POSITIVE_INFINITY &&
    years > 0 &&
    years < Number.POSITIVE_INFINITY &&
    Number.isFinite(rate)
  );
}

/**
 * Black-Scholes-Merton implied volatility (per sqrt(year)) of a European option price on a
 * spot asset with a continuous dividend yield. Never NaN: returns null when the price is
 * outside the no-arbitrage bounds (below the discounted intrinsic value
 * max(±(S·e^{−qT} − K·e^{−rT}), 0), or at or above S·e^{−qT} for a call, K·e^{−rT} for a put),
 * when `years` ≤ 0, and for non-positive or non-finite inputs. A price at intrinsic value
 * gives 0.
 */
export function bsmImpliedVolatility(
  price: number,
  right: OptionRight,
  spot: number,
  strike: number,
  years: number,
  rate: number,
  dividendYield: number,
): number | null {
  if (!validMarket(price, spot, strike, years, rate) || !Number.isFinite(dividendYield)) return null;
  const carryYears = (rate - dividendYield) * years;
  return impliedFromForward(
    price,
    right,
    Math.log(spot / strike) + carryYears,
    Math.sqrt(spot * strike) * Math.exp(0.5 * carryYears),
    Math.exp(-rate * years),
    years,
  );
}

/**
 * Black-76 implied volatility of a European option on a forward or future, price discounted
 * at `rate`. Never NaN; null outside the bounds (see `bsmImpliedVolatility`).
 */
export function black76ImpliedVolatility(
  price: number,
  right: OptionRight,
  forward: number,
  strike: number,
  years: number,
  rate: number,
): number | null {
  if (!validMarket(price, forward, strike, years, rate)) return null;
  return impliedFromForward(
    price,
    right,
    Math.log(forward / strike),
    Math.sqrt(forward * strike),
    Math.exp(-rate * years),
    years,
  );
}
