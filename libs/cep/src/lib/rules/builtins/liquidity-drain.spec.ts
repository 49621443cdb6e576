import { compileRule } from '../compile';
import { replayRule } from '../harness';
import { ScenarioBuilder } from '../scenario';

const rule = (params: Record<string, unknown> = {}) =>
  compileRule({ id: 'liquidity_drain', version: 1, enabled: true, severity: 'warning', builtin: 'LIQUIDITY_DRAIN', params: { minQuotes: 4, minDepthDropPct: 50, minSpreadWidening: 2, windowMs: 5_000, ...params } });

/** Ten ordinary quotes of QQQ: 490.00/490.02, 1,000 x 1,000 (with a little noise in size). */
function normal(scenario = new ScenarioBuilder(), from = 0): ScenarioBuilder {
  for (let i = 0; i < 10; i++) scenario.at(from + i * 100).quote('QQQ', 490, 490.02, 1_000 + (i % 2) * 100, 1_000);
  return scenario;
}

/** Quotes thinning step by step from 1,000 x 1,000 and 2 cents wide. */
function drain(scenario: ScenarioBuilder, from: number, steps: { size: number; spread: number }[]): ScenarioBuilder {
  steps.forEach(({ size, spread }, i) => scenario.at(from + i * 100).quote('QQQ', 490, 490 + spread, size, size));
  return scenario;
}

describe('LIQUIDITY_DRAIN', () => {
  it('fires when consecutive quotes thin out past half the size and twice the spread, naming the drop and widening', () => {
    const scenario = drain(normal(), 1_000, [
      { size: 900, spread: 0.02 },
      { size: 700, spread: 0.03 },
      { size: 600, spread: 0.03 },
      { size: 400, spread: 0.05 },
      { size: 300, spread: 0.06 },
    ]);
    const { matches, alerts } = replayRule(rule(), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0].key).toBe('QQQ');
    // The fourth thinning quote (400 x 400, 5 cents) passes both thresholds against 1,100 + 1,000 (the last ordinary quote) and 2 cents.
    expect(matches[0].events['thinning']).toHaveLength(3);
    expect(matches[0].events['drained']).toHaveLength(1);
    expect(alerts[0].attributes).toMatchObject({ depth: 800, previousDepth: 2_100, quotes: 4 });
    expect(Number(alerts[0].attributes['depthDropPct'])).toBeCloseTo((1 - 800 / 2_100) * 100, 2);
    expect(Number(alerts[0].attributes['spreadWidening'])).toBeCloseTo(2.5, 6);
    expect(alerts[0].message).toMatch(/^QQQ liquidity draining: size 2100 -> 800 \(-62%\), spread 0\.02 -> 0\.05 \(2\.5x\) over 4 quotes/);
  });

  it('does not fire when one quote in the run recovers', () => {
    const scenario = drain(normal(), 1_000, [
      { size: 900, spread: 0.02 },
      { size: 700, spread: 0.03 },
      { size: 800, spread: 0.03 },
      { size: 400, spread: 0.05 },
      { size: 300, spread: 0.06 },
    ]);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('does not fire when the spread has not yet doubled', () => {
    const scenario = drain(normal(), 1_000, [
      { size: 900, spread: 0.02 },
      { size: 700, spread: 0.03 },
      { size: 600, spread: 0.03 },
      { size: 400, spread: 0.039 },
    ]);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('does not fire when the run takes longer than the window', () => {
    const scenario = normal();
    [
      { size: 900, spread: 0.02 },
      { size: 700, spread: 0.03 },
      { size: 600, spread: 0.03 },
      { size: 400, spread: 0.05 },
    ].forEach(({ size, spread }, i) => scenario.at(1_000 + i * 2_000).quote('QQQ', 490, 490 + spread, size, size));
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('raises one alert per run however long it goes on', () => {
    const steps = Array.from({ length: 12 }, (_, i) => ({ size: 900 - i * 70, spread: 0.02 + i * 0.01 }));
    expect(replayRule(rule(), drain(normal(), 1_000, steps).events).matches).toHaveLength(1);
  });
});
