import { compileRule } from '../compile';
import { replayRule } from '../harness';
import { ScenarioBuilder } from '../scenario';
import { seededRandom as prng } from '@tributary/testing';

const rule = (params: Record<string, unknown> = {}) =>
  compileRule({
    id: 'correlation_break_spy_qqq',
    version: 1,
    enabled: true,
    severity: 'warning',
    builtin: 'CORRELATION_BREAK',
    params: { sampleMs: 1_000, windowMs: 60_000, minSamples: 30, coupledAbove: 0.7, breakBelow: 0.3, ...params },
  });

/**
 * SPY and QQQ (and IWM, which the rule ignores) trading twice a second. QQQ's per-second return is
 * SPY's plus a little noise while `coupled(second)`, an independent draw otherwise.
 */
function pairMarket(seconds: number, coupled: (second: number) => boolean): ScenarioBuilder {
  const random = prng(7);
  const scenario = new ScenarioBuilder();
  let spy = 575;
  let qqq = 490;
  let iwm = 220;
  for (let s = 0; s < seconds; s++) {
    const common = (random() - 0.5) * 0.002;
    spy *= 1 + common;
    qqq *= 1 + (coupled(s) ? common + (random() - 0.5) * 0.0004 : (random() - 0.5) * 0.002);
    iwm *= 1 + common;
    for (const half of [0, 500]) {
      scenario.at(s * 1_000 + half + 10).trade('SPY', spy, 100, 0);
      scenario.at(s * 1_000 + half + 20).trade('QQQ', qqq, 100, 1);
      scenario.at(s * 1_000 + half + 30).trade('IWM', iwm, 100, 2);
    }
  }
  return scenario;
}

describe('CORRELATION_BREAK', () => {
  it('fires once when the returns of the pair stop moving together, keyed by the pair', () => {
    const { matches, alerts } = replayRule(rule(), pairMarket(200, (s) => s < 90).events);
    expect(matches).toHaveLength(1);
    expect(matches[0].key).toBe('SPY/QQQ');
    const [coupled] = matches[0].events['coupled'];
    const [broken] = matches[0].events['broken'];
    expect(broken.ts).toBeGreaterThan(90 * 1e9);
    expect(coupled.ts).toBeLessThan(90 * 1e9);
    expect(Number(alerts[0].attributes['correlation'])).toBeLessThan(0.3);
    expect(Number(alerts[0].attributes['peakCorrelation'])).toBeGreaterThanOrEqual(0.7);
    expect(Number(alerts[0].attributes['samples'])).toBeGreaterThanOrEqual(30);
    expect(alerts[0].message).toMatch(/^SPY\/QQQ correlation of returns fell to -?0\.\d+ \(below 0\.3\) from 0\.\d+/);
  });

  it('does not fire while the pair stays coupled', () => {
    expect(replayRule(rule(), pairMarket(200, () => true).events).matches).toHaveLength(0);
  });

  it('does not fire when the pair was never coupled', () => {
    expect(replayRule(rule(), pairMarket(200, () => false).events).matches).toHaveLength(0);
  });

  it('watches the configured pair only', () => {
    const { matches } = replayRule(rule({ symbolB: 'IWM' }), pairMarket(200, (s) => s < 90).events);
    expect(matches).toHaveLength(0);
  });

  it('refuses a pair of one symbol and thresholds the wrong way round', () => {
    expect(() => rule({ symbolB: 'SPY' })).toThrow('params.symbolB: must differ from symbolA (SPY)');
    expect(() => rule({ breakBelow: 0.8 })).toThrow('params.breakBelow: 0.8 must be below coupledAbove (0.7)');
  });
});
