import { compileRule } from '../compile';
import { replayRule } from '../harness';
import { ScenarioBuilder } from '../scenario';

const rule = (params: Record<string, unknown> = {}) =>
  compileRule({ id: 'option_flow', version: 2, enabled: true, severity: 'info', builtin: 'OPTION_FLOW', params: { minCount: 3, minPremium: 100_000, windowMs: 60_000, ...params } });

describe('OPTION_FLOW', () => {
  it('fires for three large sweeps and blocks in one underlying within a minute, with their total premium and lean', () => {
    const scenario = new ScenarioBuilder()
      .at(0)
      .flow('TSLA', { kind: 'sweep', premium: 250_000, right: 'call', side: 'buy' })
      .at(5_000)
      .flow('AAPL', { kind: 'sweep', premium: 900_000 }) // another underlying
      .at(20_000)
      .flow('TSLA', { kind: 'split', premium: 400_000 }) // a kind that does not count
      .at(30_000)
      .flow('TSLA', { kind: 'block', premium: 150_000, right: 'put', side: 'sell' })
      .at(40_000)
      .flow('TSLA', { kind: 'sweep', premium: 99_999 }) // too small
      .at(55_000)
      .flow('TSLA', { kind: 'sweep', premium: 300_000, right: 'call', side: 'buy' });
    const { matches, alerts } = replayRule(rule(), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0]).toMatchObject({ patternId: 'option_flow', version: 2, key: 'TSLA' });
    expect(matches[0].events['flow'].map((e) => e.offset)).toEqual(['0', '3', '5']);
    expect(alerts[0].attributes).toMatchObject({ flows: 3, totalPremium: 700_000, bullishPremium: 700_000, bearishPremium: 0, lean: 'bullish', calls: 2, puts: 1, spanSeconds: 55 });
    expect(alerts[0].message).toBe('TSLA: 3 sweep/block flows in 55 s, $700,000 premium, bullish');
  });

  it('does not fire when the third flow comes just after the window', () => {
    const scenario = new ScenarioBuilder().at(0).flow('TSLA', { premium: 200_000 }).at(30_000).flow('TSLA', { premium: 200_000 }).at(60_001).flow('TSLA', { premium: 200_000 });
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('does not fire on two qualifying flows and a small one', () => {
    const scenario = new ScenarioBuilder().at(0).flow('TSLA', { premium: 200_000 }).at(1_000).flow('TSLA', { premium: 99_000 }).at(2_000).flow('TSLA', { premium: 200_000 });
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('counts each flow in one alert only: six flows in a burst make two alerts', () => {
    const scenario = new ScenarioBuilder();
    for (let i = 0; i < 6; i++) scenario.at(i * 1_000).flow('TSLA', { premium: 200_000, kind: i % 2 ? 'block' : 'sweep' });
    const { matches } = replayRule(rule(), scenario.events);
    expect(matches.map((m) => m.events['flow'].map((e) => e.offset))).toEqual([
      ['0', '1', '2'],
      ['3', '4', '5'],
    ]);
  });

  it('counts only the configured kinds', () => {
    const scenario = new ScenarioBuilder();
    for (let i = 0; i < 3; i++) scenario.at(i * 1_000).flow('TSLA', { premium: 200_000, kind: 'unusual_volume' });
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
    expect(replayRule(rule({ kinds: ['unusual_volume'] }), scenario.events).matches).toHaveLength(1);
  });
});
