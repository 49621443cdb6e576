import { compileRule } from '../compile';
import { replayRule } from '../harness';
import { ScenarioBuilder, type ChainContractInput } from '../scenario';

const rule = (params: Record<string, unknown> = {}) =>
  compileRule({ id: 'price_divergence', version: 1, enabled: true, severity: 'warning', builtin: 'PRICE_DIVERGENCE', params: { minDivergenceBps: 50, confirmWithinMs: 5_000, ...params } });

const EXPIRY = '2025-04-17';
const YEARS = (Date.UTC(2025, 3, 17, 20) - 1742567400123) / (365 * 86_400_000);
const R = 0.045;

/** Calls and puts around 214 priced (0.04 wide) so that parity implies the spot `implied`. */
function chainImplying(implied: number): ChainContractInput[] {
  const out: ChainContractInput[] = [];
  for (const strike of [205, 210, 215, 220, 225]) {
    const put = 5 + Math.max(0, strike - 214);
    const call = put + implied - strike * Math.exp(-R * YEARS);
    out.push({ expiration: EXPIRY, strike, right: 'call', bid: call - 0.02, ask: call + 0.02 }, { expiration: EXPIRY, strike, right: 'put', bid: put - 0.02, ask: put + 0.02 });
  }
  return out;
}

/** AAPL quoted 213.99/214.01 every 250 ms and a chain snapshot every second, implying `implied(second)`. */
function market(seconds: number, implied: (second: number) => number): ScenarioBuilder {
  const scenario = new ScenarioBuilder();
  for (let s = 0; s < seconds; s++) {
    for (let q = 0; q < 4; q++) scenario.at(s * 1_000 + q * 250).quote('AAPL', 213.99, 214.01);
    scenario.at(s * 1_000 + 500).chain('AAPL', 214, chainImplying(implied(s)), { riskFreeRate: R });
  }
  return scenario;
}

describe('PRICE_DIVERGENCE', () => {
  it('fires when two snapshots in a row imply a spot 1% above the quoted mid, naming the divergence', () => {
    const scenario = market(8, (s) => (s >= 3 ? 216.14 : 214));
    const { matches, alerts } = replayRule(rule(), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0].key).toBe('AAPL');
    expect(matches[0].events['diverged'][0].topic).toBe('options.chains');
    expect(matches[0].lastEventTs - matches[0].events['diverged'][0].ts).toBe(1_000_000_000);
    expect(Number(alerts[0].attributes['divergenceBps'])).toBeCloseTo(100, 0);
    expect(Number(alerts[0].attributes['referencePrice'])).toBe(214);
    expect(alerts[0].message).toMatch(/^AAPL options imply 216\.14 against 214 \(\+100\.0 bp\)/);
  });

  it('does not fire when the divergence lasts one snapshot only', () => {
    const scenario = market(8, (s) => (s === 3 ? 216.14 : 214));
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('does not fire just under the threshold', () => {
    const scenario = market(8, (s) => (s >= 3 ? 214 * 1.0048 : 214));
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('does not fire when the confirming snapshot diverges the other way', () => {
    const scenario = market(5, (s) => (s === 3 ? 216.14 : s === 4 ? 211.86 : 214));
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('compares with the snapshot underlying price when the reference is chain', () => {
    const scenario = new ScenarioBuilder();
    for (let s = 0; s < 4; s++) scenario.at(s * 1_000).chain('AAPL', s >= 2 ? 210 : 214, chainImplying(214), { riskFreeRate: R });
    expect(replayRule(rule({ reference: 'chain' }), scenario.events).matches).toHaveLength(1);
    expect(compileRule({ id: 'd', version: 1, enabled: true, severity: 'info', builtin: 'PRICE_DIVERGENCE', params: { reference: 'chain' } }).inputs).toEqual(['options.chains']);
  });
});
