/**
 * Reading an `options.chains` snapshot for the built-in patterns: calls and puts paired by expiration
 * and strike with their time to expiry, the at-the-money implied volatility, and the put-call parity.
 */
import { expiryInstantMs } from '@tributary/market-math';
import type { CepEvent } from './rule';

const MS_PER_YEAR = 365 * 86_400_000;

export interface ChainQuote {
  readonly bid: number;
  readonly ask: number;
  readonly iv?: number;
}

/** A call and a put of the same expiration and strike (either may be missing). */
export interface ChainPair {
  readonly expiration: string;
  readonly strike: number;
  /** Years to the 16:00 New York close of the expiration date (ACT/365) at the snapshot's time. */
  readonly years: number;
  readonly call?: ChainQuote;
  readonly put?: ChainQuote;
}

export interface ChainView {
  readonly underlying: string;
  readonly underlyingPrice: number;
  readonly riskFreeRate: number;
  readonly dividendYield: number;
  /** Pairs by expiration (nearest first), then strike (ascending). */
  readonly pairs: readonly ChainPair[];
}

const views = new WeakMap<object, ChainView | null>();

/** The snapshot's contracts paired up (cached per event object: several rules read the same snapshot). */
export function chainView(event: CepEvent): ChainView | undefined {
  if (event.topic !== 'options.chains') return undefined;
  const cached = views.get(event.value);
  if (cached !== undefined) return cached ?? undefined;
  const view = buildView(event.value);
  views.set(event.value, view);
  return view ?? undefined;
}

function buildView(value: Readonly<Record<string, unknown>>): ChainView | null {
  const { underlying, underlyingPrice, riskFreeRate, dividendYield, contracts, ts } = value as {
    underlying?: unknown;
    underlyingPrice?: unknown;
    riskFreeRate?: unknown;
    dividendYield?: unknown;
    contracts?: unknown;
    ts?: unknown;
  };
  if (typeof underlying !== 'string' || typeof underlyingPrice !== 'number' || typeof riskFreeRate !== 'number' || !Array.isArray(contracts) || typeof ts !== 'string') {
    return null;
  }
  const nowMs = ts.length > 6 ? Number(ts.slice(0, -6)) : 0;
  const byKey = new Map<string, { expiration: string; strike: number; years: number; call?: ChainQuote; put?: ChainQuote }>();
  const years = new Map<string, number>();
  for (const item of contracts as Record<string, unknown>[]) {
    const expiration = item['expiration'];
    const strike = item['strike'];
    const right = item['right'];
    if (typeof expiration !== 'string' || typeof strike !== 'number') continue;
    let t = years.get(expiration);
    if (t === undefined) {
      const expiry = expiryInstantMs(expiration);
      t = expiry === null ? Number.NaN : (expiry - nowMs) / MS_PER_YEAR;
      years.set(expiration, t);
    }
    if (!(t > 0)) continue; // expired or malformed
    const key = `${expiration}|${strike}`;
    let pair = byKey.get(key);
    if (!pair) byKey.set(key, (pair = { expiration, strike, years: t }));
    const iv = item['iv'];
    const quote: ChainQuote = { bid: Number(item['bid']), ask: Number(item['ask']), ...(typeof iv === 'number' ? { iv } : {}) };
    if (right === 'call') pair.call = quote;
    else if (right === 'put') pair.put = quote;
  }
  const pairs = [...byKey.values()].sort((a, b) => a.years - b.years || a.strike - b.strike);
  return {
    underlying,
    underlyingPrice,
    riskFreeRate,
    dividendYield: typeof dividendYield === 'number' ? dividendYield : 0,
    pairs,
  };
}

/** The nearest expiration at least `minDays` away, and its pairs. */
export function nearestExpiry(view: ChainView, minDays: number): ChainPair[] {
  const minYears = minDays / 365;
  const first = view.pairs.find((pair) => pair.years >= minYears);
  return first ? view.pairs.filter((pair) => pair.expiration === first.expiration) : [];
}

export interface AtmVolatility {
  readonly iv: number;
  readonly strike: number;
  readonly expiration: string;
}

/** Implied volatility at the strike nearest the underlying price (mean of call and put when both have one). */
export function atmVolatility(view: ChainView, minDays: number): AtmVolatility | undefined {
  let best: ChainPair | undefined;
  let bestIv = Number.NaN;
  for (const pair of nearestExpiry(view, minDays)) {
    const ivs = [pair.call?.iv, pair.put?.iv].filter((iv): iv is number => typeof iv === 'number' && iv > 0);
    if (ivs.length === 0) continue;
    if (!best || Math.abs(pair.strike - view.underlyingPrice) < Math.abs(best.strike - view.underlyingPrice)) {
      best = pair;
      bestIv = ivs.reduce((a, b) => a + b, 0) / ivs.length;
    }
  }
  return best ? { iv: bestIv, strike: best.strike, expiration: best.expiration } : undefined;
}

/** Both sides quoted on both legs: a bid above 0 and an ask at or above it. */
export function twoSided(pair: ChainPair): pair is ChainPair & { call: ChainQuote; put: ChainQuote } {
  const { call, put } = pair;
  return !!call && !!put && call.bid > 0 && call.ask >= call.bid && put.bid > 0 && put.ask >= put.bid;
}

/** S·e^{-qT} - K·e^{-rT}: what C - P must equal for European options (put-call parity). */
export function parityValue(view: ChainView, pair: ChainPair): number {
  return view.underlyingPrice * Math.exp(-view.dividendYield * pair.years) - pair.strike * Math.exp(-view.riskFreeRate * pair.years);
}
