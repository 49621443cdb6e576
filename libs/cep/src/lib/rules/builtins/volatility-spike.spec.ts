import { compileRule } from '../compile';
import { replayRule } from '../harness';
import { ScenarioBuilder, type ChainContractInput } from '../scenario';

const rule = (params: Record<string, unknown> = {}) =>
  compileRule({ id: 'volatility_spike', version: 1, enabled: true, severity: 'warning', builtin: 'VOLATILITY_SPIKE', params: { lookbackMs: 60_000, minSamples: 10, minIvChangePoints: 5, minZscore: 3, ...params } });

/** Strikes 200-230 of two expirations; the 215 (nearest the 214 spot) of the near one at `atmIv`. */
function contracts(atmIv: number, nearExpiry = '2025-03-28'): ChainContractInput[] {
  const out: ChainContractInput[] = [];
  for (const expiration of [nearExpiry, '2025-04-17']) {
    for (const strike of [200, 210, 215, 220, 230]) {
      const iv = expiration === nearExpiry && strike === 215 ? atmIv : 0.3;
      out.push({ expiration, strike, right: 'call', bid: 5, ask: 5.2, iv }, { expiration, strike, right: 'put', bid: 5, ask: 5.2, iv: iv + 0.002 });
    }
  }
  return out;
}

/** A chain snapshot of SPY every 2 s for 40 s with the ATM volatility wobbling around 25%. */
function calm(scenario = new ScenarioBuilder()): ScenarioBuilder {
  for (let i = 0; i < 20; i++) scenario.at(i * 2_000).chain('SPY', 214, contracts(0.25 + (i % 3) * 0.002));
  return scenario;
}

describe('VOLATILITY_SPIKE', () => {
  it('fires when ATM implied volatility jumps 8 vol points, naming the move and its z-score', () => {
    const scenario = calm();
    scenario.at(40_000).chain('SPY', 214, contracts(0.33)).at(42_000).chain('SPY', 214, contracts(0.34));
    const { matches, alerts } = replayRule(rule(), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0].key).toBe('SPY');
    expect(matches[0].events['spike'][0].offset).toBe('20');
    expect(alerts[0].attributes).toMatchObject({ strike: 215, expiration: '2025-03-28' });
    expect(Number(alerts[0].attributes['atmIv'])).toBeCloseTo(0.331, 6);
    expect(Number(alerts[0].attributes['ivChangePoints'])).toBeCloseTo(8, 0);
    expect(Number(alerts[0].attributes['zscore'])).toBeGreaterThan(3);
    expect(alerts[0].message).toMatch(/^SPY ATM implied volatility 25\.1% -> 33\.1% \(\+8\.0 vol points/);
  });

  it('does not fire on a rise just under minIvChangePoints', () => {
    const scenario = calm().at(40_000).chain('SPY', 214, contracts(0.298));
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('does not fire on a big move in a noisy series when the z-score stays low', () => {
    const scenario = new ScenarioBuilder();
    for (let i = 0; i < 20; i++) scenario.at(i * 2_000).chain('SPY', 214, contracts(i % 2 ? 0.3 : 0.2));
    scenario.at(40_000).chain('SPY', 214, contracts(0.32));
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
    expect(replayRule(rule({ minZscore: 0 }), scenario.events).matches).toHaveLength(1);
  });

  it('does not take an expiration roll for a spike', () => {
    const scenario = calm();
    // The near expiry rolls to one whose ATM volatility is 10 points higher.
    for (let i = 0; i < 5; i++) scenario.at(40_000 + i * 2_000).chain('SPY', 214, contracts(0.35, '2025-04-04'));
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });
});
