import { nanosFromIso, validateEvent } from '@tributary/contracts';
import { bsmPrice, yearsToExpiry } from '@tributary/market-math';
import type { SelectedContract } from '../chain/chain-selector';
import type { VendorAnalytics } from '../simulator/market-source';
import type { ContractMarket } from './chain-book';
import { buildChainSnapshot } from './chain-snapshot';

const SPOT = 575;
const RATE = 0.045;
const DIVIDEND_YIELD = 0.013;
const TS = nanosFromIso('2025-03-03T15:00:00Z');
const EXPIRATION = '2025-03-21';
const YEARS = known(yearsToExpiry(EXPIRATION, TS), 'the time to expiry');

/** A vol smile with put skew, as the simulator quotes. */
function volOf(strike: number): number {
  const m = Math.log(strike / SPOT);
  return 0.16 - 0.35 * m + 1.5 * m * m;
}

/** A market maker's two-sided quote around the model price: tick 0.01, spread of 1% (at least a tick). */
function quoted(right: 'call' | 'put', strike: number): ContractMarket {
  const years = YEARS;
  const value = known(bsmPrice(right, SPOT, strike, years, RATE, DIVIDEND_YIELD, volOf(strike)), `a model price for the ${strike} ${right}`);
  const half = Math.max(0.01, Math.round(value * 0.005 * 100) / 100);
  const bid = Math.max(0, Math.round((value - half) * 100) / 100);
  const ask = Math.round((value + half) * 100) / 100;
  const symbol = `SPY${EXPIRATION.slice(2).replaceAll('-', '')}${right === 'call' ? 'C' : 'P'}${String(strike * 1000).padStart(8, '0')}`;
  const contract: SelectedContract = { symbol, underlying: 'SPY', expiration: EXPIRATION, strike, right };
  return { contract, bid, ask, bidSize: 10, askSize: 12, quoteTs: TS, last: ask, volume: 25, volumeDay: 0 };
}

/** A value the code under test must have produced; its absence fails the test, naming what was missing. */
function known<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`expected ${what}`);
  return value;
}

type ChainRow = ReturnType<typeof buildChainSnapshot>['contracts'][number];
const ivOf = (item: ChainRow) => known(item.iv, `an implied volatility for ${item.symbol}`);
const greeksOf = (item: ChainRow) => known(item.greeks, `Greeks for ${item.symbol}`);

const STRIKES = [540, 550, 560, 570, 575, 580, 590, 600, 610];

function snapshot() {
  const contracts = STRIKES.flatMap((strike) => [quoted('call', strike), quoted('put', strike)]);
  return buildChainSnapshot({
    underlying: 'SPY',
    underlyingPrice: SPOT,
    ts: TS,
    riskFreeRate: RATE,
    dividendYield: DIVIDEND_YIELD,
    contracts,
    volumeOf: (market) => market.volume,
    openInterestOf: () => 1234,
  });
}

describe('chain snapshots with implied volatility and Greeks', () => {
  const chain = snapshot();
  const row = (right: 'call' | 'put', strike: number) =>
    known(chain.contracts.find((item) => item.right === right && item.strike === strike), `the ${strike} ${right} in the chain`);

  it('is a valid OptionChainSnapshot record, keyed data and event time from the input', () => {
    const result = validateEvent('options.chains', chain, { nowMs: Date.parse('2025-03-04T00:00:00Z') });
    expect(result.ok ? [] : result.errors).toEqual([]);
    expect(chain.ts).toBe(TS);
    expect(chain.underlyingPrice).toBe(SPOT);
    expect(chain.contracts).toHaveLength(STRIKES.length * 2);
  });

  it('gives every two-sided contract an IV and Greeks, with the NBBO, last, volume and open interest', () => {
    for (const item of chain.contracts) {
      expect(item.iv).toBeGreaterThan(0);
      expect(item.greeks).toBeDefined();
      expect(item).toMatchObject({ bidSize: 10, askSize: 12, volume: 25, openInterest: 1234 });
      expect(item.last).toBe(item.ask);
    }
  });

  it('recovers the volatility the quotes were priced from, within what the spread allows', () => {
    const years = YEARS;
    for (const item of chain.contracts) {
      // The mid is within half a tick of the model price: the IV error is at most that over vega.
      const vega = greeksOf(item).vega * 100;
      const tolerance = 0.005 / vega + 1e-9;
      expect(Math.abs(ivOf(item) - volOf(item.strike))).toBeLessThanOrEqual(tolerance);
      expect(years).toBeGreaterThan(0);
    }
  });

  it('repricing each contract at its IV gives back its mid (IV round trip)', () => {
    const years = YEARS;
    for (const item of chain.contracts) {
      const price = known(bsmPrice(item.right, SPOT, item.strike, years, RATE, DIVIDEND_YIELD, ivOf(item)), 'a model price at the implied volatility');
      // The IV is rounded to 10 significant digits in the record.
      expect(Math.abs(price - (item.bid + item.ask) / 2)).toBeLessThan(1e-6);
    }
  });

  it('satisfies put-call parity on the mids within the spreads', () => {
    const years = YEARS;
    for (const strike of STRIKES) {
      const call = row('call', strike);
      const put = row('put', strike);
      const parity = SPOT * Math.exp(-DIVIDEND_YIELD * years) - strike * Math.exp(-RATE * years);
      const callMid = (call.bid + call.ask) / 2;
      const putMid = (put.bid + put.ask) / 2;
      const halfSpreads = (call.ask - call.bid) / 2 + (put.ask - put.bid) / 2;
      expect(Math.abs(callMid - putMid - parity)).toBeLessThanOrEqual(halfSpreads + 1e-9);
    }
  });

  it('gives a call and a put of the same strike the same gamma and vega at the same volatility', () => {
    // Same strike, same IV only if the smile is arbitrage-free at that strike; compare at the call's IV.
    for (const strike of STRIKES) {
      const call = row('call', strike);
      const put = row('put', strike);
      const relativeIvGap = Math.abs(ivOf(call) - ivOf(put)) / ivOf(call);
      // The mids differ from the model by at most half a tick: the two IVs agree closely ...
      expect(relativeIvGap).toBeLessThan(0.02);
      // ... and so do gamma and vega, which depend on the volatility only.
      expect(Math.abs(greeksOf(call).gamma - greeksOf(put).gamma) / greeksOf(call).gamma).toBeLessThan(0.03);
      expect(Math.abs(greeksOf(call).vega - greeksOf(put).vega) / greeksOf(call).vega).toBeLessThan(0.03);
    }
  });

  it('has call delta minus put delta equal to the dividend discount factor at one volatility', () => {
    const years = YEARS;
    const atm = buildChainSnapshot({
      underlying: 'SPY',
      underlyingPrice: SPOT,
      ts: TS,
      riskFreeRate: RATE,
      dividendYield: DIVIDEND_YIELD,
      contracts: [quoted('call', 575), quoted('put', 575)],
      volumeOf: () => 0,
      openInterestOf: () => undefined,
    });
    const [call, put] = atm.contracts;
    expect(greeksOf(call).delta - greeksOf(put).delta).toBeCloseTo(Math.exp(-DIVIDEND_YIELD * years), 2);
    expect(greeksOf(call).theta).toBeLessThan(0);
    expect(call.volume).toBe(0);
    expect(call.last).toBeUndefined();
    expect(call.openInterest).toBeUndefined();
  });

  it('leaves IV and Greeks out where no volatility fits the quote, and quotes without an ask have none', () => {
    const belowIntrinsic = quoted('call', 540);
    belowIntrinsic.bid = 1;
    belowIntrinsic.ask = 2; // far below the 35 intrinsic value
    const noAsk = quoted('put', 540);
    noAsk.bid = 0;
    noAsk.ask = 0;
    noAsk.quoteTs = undefined;
    const result = buildChainSnapshot({
      underlying: 'SPY',
      underlyingPrice: SPOT,
      ts: TS,
      riskFreeRate: RATE,
      dividendYield: DIVIDEND_YIELD,
      contracts: [belowIntrinsic, noAsk],
      volumeOf: () => 0,
      openInterestOf: () => undefined,
    });
    for (const item of result.contracts) {
      expect(item.iv).toBeUndefined();
      expect(item.greeks).toBeUndefined();
    }
    expect(result.contracts[1]).not.toHaveProperty('bidSize');
    expect(validateEvent('options.chains', result, { nowMs: Date.parse('2025-03-04T00:00:00Z') }).ok).toBe(true);
  });

  it("carries the vendor's IV and Greeks next to ours when the source has them, leaving out values that are not numbers", () => {
    const call = quoted('call', 575);
    const put = quoted('put', 575);
    const other = quoted('call', 580);
    const vendor: Record<string, VendorAnalytics> = {
      [call.contract.symbol]: { iv: 0.161, greeks: { delta: 0.52, gamma: 0.031, theta: -0.21, vega: 0.45, rho: 0.11 } },
      [put.contract.symbol]: { iv: Number.NaN, greeks: { delta: -0.48, gamma: Number.POSITIVE_INFINITY } },
      [other.contract.symbol]: { iv: -1 },
    };
    const result = buildChainSnapshot({
      underlying: 'SPY',
      underlyingPrice: SPOT,
      ts: TS,
      riskFreeRate: RATE,
      dividendYield: DIVIDEND_YIELD,
      contracts: [call, put, other],
      volumeOf: () => 0,
      openInterestOf: () => undefined,
      vendorOf: (symbol) => vendor[symbol],
      vendorSource: 'alpaca',
    });
    expect(result.contracts[0].vendor).toEqual({ source: 'alpaca', ...vendor[call.contract.symbol] });
    expect(result.contracts[0].iv).toBeCloseTo(volOf(575), 2);
    expect(result.contracts[1].vendor).toEqual({ source: 'alpaca', greeks: { delta: -0.48 } });
    expect(result.contracts[2]).not.toHaveProperty('vendor');
    expect(validateEvent('options.chains', result, { nowMs: Date.parse('2025-03-04T00:00:00Z') }).ok).toBe(true);
  });

  it('has no vendor block when the source computes none (the simulator)', () => {
    expect(chain.contracts.some((item) => 'vendor' in item)).toBe(false);
  });
});
