// Implied volatility and Greeks throughput on one core, over a realistic option chain.
//
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/implied-vol.ts
//
// The chain: an index ETF at 500, strikes every 1% from 75% to 125% of spot, 16 expiries from
// 1 day to 2 years, calls and puts, priced from a volatility smile with skew and term structure
// (8% to 70% vol). Baseline, measured in the same run: Black-Scholes-Merton pricing alone.
// Results go to bench-results/implied-vol.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import {
  bsmGreeks,
  bsmImpliedVolatility,
  bsmPrice,
  createOptionGreeks,
  OptionRight,
} from '@tributary/market-math';

const SPOT = 500;
const RATE = 0.043;
const DIVIDEND_YIELD = 0.013;
const EXPIRY_DAYS = [1, 2, 3, 7, 14, 21, 30, 45, 60, 90, 120, 180, 270, 365, 540, 730];
const ROUNDS = 7;
const TARGET_SOLVES_PER_ROUND = 2_000_000;

interface Chain {
  rights: OptionRight[];
  strikes: Float64Array;
  years: Float64Array;
  volatilities: Float64Array;
  prices: Float64Array;
}

function smileVolatility(strike: number, years: number): number {
  const forward = SPOT * Math.exp((RATE - DIVIDEND_YIELD) * years);
  const k = Math.log(strike / forward) / Math.sqrt(Math.max(years, 1 / 52));
  const atm = 0.16 + 0.04 * Math.exp(-years * 4);
  return Math.min(0.7, Math.max(0.08, atm - 0.12 * k + 0.25 * k * k));
}

function buildChain(): Chain {
  const rights: OptionRight[] = [];
  const strikes: number[] = [];
  const years: number[] = [];
  const volatilities: number[] = [];
  const prices: number[] = [];
  for (const days of EXPIRY_DAYS) {
    const t = days / 365;
    for (let percent = 75; percent <= 125; percent++) {
      const strike = (SPOT * percent) / 100;
      for (const right of ['call', 'put'] as const) {
        const vol = smileVolatility(strike, t);
        const price = bsmPrice(right, SPOT, strike, t, RATE, DIVIDEND_YIELD, vol);
        if (price === null) throw new Error('chain point has no price');
        rights.push(right);
        strikes.push(strike);
        years.push(t);
        volatilities.push(vol);
        prices.push(price);
      }
    }
  }
  return {
    rights,
    strikes: Float64Array.from(strikes),
    years: Float64Array.from(years),
    volatilities: Float64Array.from(volatilities),
    prices: Float64Array.from(prices),
  };
}

function perSecond(count: number, startNs: bigint): number {
  return (count / Number(process.hrtime.bigint() - startNs)) * 1e9;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function main(): void {
  const chain = buildChain();
  const size = chain.prices.length;
  const passes = Math.max(1, Math.round(TARGET_SOLVES_PER_ROUND / size));
  const greeks = createOptionGreeks();

  // Accuracy over the chain, where the price pins the volatility (see the library README).
  let worstVolatilityError = 0;
  let unsolved = 0;
  for (let i = 0; i < size; i++) {
    const solved = bsmImpliedVolatility(chain.prices[i], chain.rights[i], SPOT, chain.strikes[i], chain.years[i], RATE, DIVIDEND_YIELD);
    if (solved === null) {
      unsolved++;
      continue;
    }
    const g = bsmGreeks(chain.rights[i], SPOT, chain.strikes[i], chain.years[i], RATE, DIVIDEND_YIELD, chain.volatilities[i], greeks);
    if (g !== null && chain.prices[i] > 1e-300 && Number.EPSILON * chain.prices[i] < 1e-10 * g.vega) {
      worstVolatilityError = Math.max(worstVolatilityError, Math.abs(solved - chain.volatilities[i]));
    }
  }

  const pricing: number[] = [];
  const impliedOnly: number[] = [];
  const impliedWithGreeks: number[] = [];
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    let start = process.hrtime.bigint();
    for (let pass = 0; pass < passes; pass++)
      for (let i = 0; i < size; i++)
        sink += bsmPrice(chain.rights[i], SPOT, chain.strikes[i], chain.years[i], RATE, DIVIDEND_YIELD, chain.volatilities[i]) ?? 0;
    pricing.push(perSecond(passes * size, start));

    start = process.hrtime.bigint();
    for (let pass = 0; pass < passes; pass++)
      for (let i = 0; i < size; i++)
        sink += bsmImpliedVolatility(chain.prices[i], chain.rights[i], SPOT, chain.strikes[i], chain.years[i], RATE, DIVIDEND_YIELD) ?? 0;
    impliedOnly.push(perSecond(passes * size, start));

    start = process.hrtime.bigint();
    for (let pass = 0; pass < passes; pass++)
      for (let i = 0; i < size; i++) {
        const vol = bsmImpliedVolatility(chain.prices[i], chain.rights[i], SPOT, chain.strikes[i], chain.years[i], RATE, DIVIDEND_YIELD);
        if (vol !== null && bsmGreeks(chain.rights[i], SPOT, chain.strikes[i], chain.years[i], RATE, DIVIDEND_YIELD, vol, greeks) !== null) {
          sink += greeks.delta;
        }
      }
    impliedWithGreeks.push(perSecond(passes * size, start));
  }

  const results = {
    benchmark: 'implied-vol',
    measuredAt: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: 1,
    chain: { contracts: size, expiries: EXPIRY_DAYS.length, spot: SPOT, rate: RATE, dividendYield: DIVIDEND_YIELD },
    rounds: ROUNDS,
    solvesPerRound: passes * size,
    baseline: { name: 'bsmPrice', callsPerSecond: Math.round(median(pricing)) },
    impliedVolatility: {
      solvesPerSecond: Math.round(median(impliedOnly)),
      relativeToPricing: median(impliedOnly) / median(pricing),
    },
    impliedVolatilityAndGreeks: {
      solvesPerSecond: Math.round(median(impliedWithGreeks)),
      relativeToPricing: median(impliedWithGreeks) / median(pricing),
    },
    accuracy: { worstVolatilityError, unsolved },
    target: { solvesPerSecondPerCore: 1_000_000, met: median(impliedWithGreeks) >= 1_000_000 },
  };

  console.log(`chain: ${size} contracts, ${passes * size} solves per round, median of ${ROUNDS} rounds, one core`);
  console.log(`baseline  bsmPrice            ${results.baseline.callsPerSecond.toLocaleString('en-US')} calls/s`);
  console.log(
    `IV alone                      ${results.impliedVolatility.solvesPerSecond.toLocaleString('en-US')} solves/s (${(100 * results.impliedVolatility.relativeToPricing).toFixed(1)}% of pricing)`,
  );
  console.log(
    `IV + Greeks                   ${results.impliedVolatilityAndGreeks.solvesPerSecond.toLocaleString('en-US')} solves/s (${(100 * results.impliedVolatilityAndGreeks.relativeToPricing).toFixed(1)}% of pricing)`,
  );
  console.log(`worst |σ error| over the chain ${worstVolatilityError.toExponential(2)}, unsolved ${unsolved}`);
  console.log(`target >= 1,000,000 IV + Greeks solves/s per core: ${results.target.met ? 'met' : 'NOT met'}`);

  const directory = join(process.cwd(), 'bench-results');
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, 'implied-vol.json'), `${JSON.stringify(results, null, 2)}\n`);
  if (Number.isNaN(sink)) console.log('unreachable');
}

main();
