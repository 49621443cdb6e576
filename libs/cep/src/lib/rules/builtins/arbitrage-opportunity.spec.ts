import { compileRule } from '../compile';
import { replayRule } from '../harness';
import { ScenarioBuilder, type ChainContractInput } from '../scenario';

const rule = (params: Record<string, unknown> = {}) =>
  compileRule({ id: 'arbitrage_opportunity', version: 1, enabled: true, severity: 'warning', builtin: 'ARBITRAGE_OPPORTUNITY', params: { minEdge: 0.05, costPerShare: 0.03, ...params } });

// Snapshots at 2025-03-21 14:30 UTC; the 2025-04-17 expiry is 27 days and 5.5 hours away.
const EXPIRY = '2025-04-17';
const YEARS = (Date.UTC(2025, 3, 17, 20) - 1742567400123) / (365 * 86_400_000);
const R = 0.045;
const SPOT = 214;

/** A call and put pair quoted 0.10 wide around prices that satisfy parity exactly, the call mid shifted by `shift`. */
function pair(strike: number, shift = 0): ChainContractInput[] {
  const parity = SPOT - strike * Math.exp(-R * YEARS);
  const put = 6 + Math.max(0, strike - SPOT);
  const call = put + parity + shift;
  return [
    { expiration: EXPIRY, strike, right: 'call', bid: round2(call - 0.05), ask: round2(call + 0.05) },
    { expiration: EXPIRY, strike, right: 'put', bid: round2(put - 0.05), ask: round2(put + 0.05) },
  ];
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function chain(scenario: ScenarioBuilder, shiftAt215: number): ScenarioBuilder {
  return scenario.chain('AAPL', SPOT, [...pair(210), ...pair(215, shiftAt215), ...pair(220)], { riskFreeRate: R });
}

describe('ARBITRAGE_OPPORTUNITY', () => {
  it('fires when the calls of a strike are rich enough that a conversion earns more than costs, naming the strike and edge', () => {
    // Call 0.25 rich: selling it at its bid and buying the put at its ask earns about 0.25 - 0.10 - 0.03.
    const scenario = chain(new ScenarioBuilder(), 0).advance(1_000);
    chain(scenario, 0.25).advance(1_000);
    chain(scenario, 0.25);
    const { matches, alerts } = replayRule(rule(), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0].key).toBe('AAPL');
    expect(matches[0].events['violation'][0].offset).toBe('1');
    expect(alerts[0].attributes).toMatchObject({ strategy: 'conversion', strike: 215, expiration: EXPIRY, violations: 1 });
    expect(Number(alerts[0].attributes['edgePerShare'])).toBeCloseTo(0.12, 1);
    expect(alerts[0].message).toMatch(/^AAPL 2025-04-17 215: conversion earns 0\.1\d+ per share/);
  });

  it('fires for a reversal when the puts are rich', () => {
    const scenario = chain(new ScenarioBuilder(), -0.3);
    const { alerts } = replayRule(rule(), scenario.events);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].attributes['strategy']).toBe('reversal');
  });

  it('does not fire when the mispricing is inside the spreads plus costs', () => {
    // Call 0.15 rich: 0.15 - 0.10 spread - 0.03 costs = 0.02 < 0.05.
    expect(replayRule(rule(), chain(new ScenarioBuilder(), 0.15).events).matches).toHaveLength(0);
  });

  it('does not fire for strikes further from the spot than maxMoneynessPct', () => {
    const scenario = new ScenarioBuilder().chain('AAPL', SPOT, [...pair(214), ...pair(240, 1)], { riskFreeRate: R });
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
    expect(replayRule(rule({ maxMoneynessPct: 20 }), scenario.events).matches).toHaveLength(1);
  });

  it('does not fire on one-sided quotes', () => {
    const contracts = pair(215, 1).map((c) => (c.right === 'put' ? { ...c, bid: 0 } : c));
    expect(replayRule(rule(), new ScenarioBuilder().chain('AAPL', SPOT, contracts, { riskFreeRate: R }).events).matches).toHaveLength(0);
  });
});
