import { compileRule } from '../compile';
import { replayRule } from '../harness';
import { ScenarioBuilder } from '../scenario';

const rule = (params: Record<string, unknown> = {}) => compileRule({ id: 'risk_breach', version: 4, enabled: true, severity: 'critical', builtin: 'RISK_BREACH', params });

describe('RISK_BREACH', () => {
  it('fires when a position change takes the quantity over the limit of its symbol, keyed by account', () => {
    const scenario = new ScenarioBuilder()
      .at(0)
      .limit('ACC-1', 'max_position_quantity', 1_000, { symbol: 'AAPL', op: 'c' })
      .at(1_000)
      .position('ACC-1', 'AAPL', 800, 210, 'c')
      .at(2_000)
      .position('ACC-2', 'AAPL', 5_000, 210, 'c') // another account, no limit
      .at(3_000)
      .position('ACC-1', 'AAPL', 1_200, 211);
    const { matches, alerts } = replayRule(rule(), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0]).toMatchObject({ patternId: 'risk_breach', version: 4, key: 'ACC-1' });
    expect(matches[0].events['breach'][0].topic).toBe('cdc.trading.positions');
    expect(alerts[0].attributes).toMatchObject({ limitType: 'max_position_quantity', symbol: 'AAPL', exposure: 1_200, limit: 1_000, utilisationPct: 120, cause: 'position' });
    expect(alerts[0].message).toBe('account ACC-1: AAPL quantity 1200 against limit 1000 (120.0% of the limit), after a position change');
  });

  it('fires when a lowered limit puts an existing position in breach', () => {
    const scenario = new ScenarioBuilder()
      .at(0)
      .limit('ACC-1', 'max_position_notional', 500_000, { op: 'c' })
      .at(1_000)
      .position('ACC-1', 'TSLA', 1_000, 260, 'c')
      .at(2_000)
      .limit('ACC-1', 'max_position_notional', 200_000);
    const { alerts } = replayRule(rule(), scenario.events);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].attributes).toMatchObject({ limitType: 'max_position_notional', symbol: 'TSLA', exposure: 260_000, limit: 200_000, cause: 'limit' });
  });

  it('checks the gross notional over all positions of the account', () => {
    const scenario = new ScenarioBuilder()
      .at(0)
      .limit('ACC-1', 'max_gross_notional', 1_000_000, { op: 'c' })
      .at(1_000)
      .position('ACC-1', 'AAPL', 2_000, 200, 'c')
      .at(2_000)
      .position('ACC-1', 'TSLA', -2_000, 250, 'c')
      .at(3_000)
      .position('ACC-1', 'NVDA', 1_000, 120, 'c');
    const { alerts } = replayRule(rule(), scenario.events);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].attributes).toMatchObject({ limitType: 'max_gross_notional', symbol: null, exposure: 1_020_000 });
  });

  it('alerts once per breach until the exposure is back under the threshold', () => {
    const scenario = new ScenarioBuilder().at(0).limit('ACC-1', 'max_position_quantity', 1_000, { op: 'c' });
    [1_100, 1_300, 900, 1_050].forEach((quantity, i) => scenario.at(1_000 * (i + 1)).position('ACC-1', 'AAPL', quantity, 200));
    const { matches } = replayRule(rule(), scenario.events);
    expect(matches.map((m) => m.events['breach'][0].offset)).toEqual(['0', '3']);
  });

  it('does not fire just under the limit, for an inactive or deleted limit, or for limit types it does not know', () => {
    const under = new ScenarioBuilder().at(0).limit('ACC-1', 'max_position_quantity', 1_000, { op: 'c' }).at(1).position('ACC-1', 'AAPL', 999.99, 200, 'c');
    expect(replayRule(rule(), under.events).matches).toHaveLength(0);
    const inactive = new ScenarioBuilder().at(0).limit('ACC-1', 'max_position_quantity', 1_000, { op: 'c', active: false }).at(1).position('ACC-1', 'AAPL', 5_000, 200, 'c');
    expect(replayRule(rule(), inactive.events).matches).toHaveLength(0);
    const deleted = new ScenarioBuilder()
      .at(0)
      .limit('ACC-1', 'max_position_quantity', 1_000, { op: 'c' })
      .at(1)
      .limit('ACC-1', 'max_position_quantity', 1_000, { op: 'd' })
      .at(2)
      .position('ACC-1', 'AAPL', 5_000, 200, 'c');
    expect(replayRule(rule(), deleted.events).matches).toHaveLength(0);
    const unknown = new ScenarioBuilder().at(0).limit('ACC-1', 'max_daily_loss', 10, { op: 'c' }).at(1).position('ACC-1', 'AAPL', 5_000, 200, 'c');
    expect(replayRule(rule(), unknown.events).matches).toHaveLength(0);
  });

  it('warns early at thresholdPct and reads the change topics of another schema', () => {
    const scenario = new ScenarioBuilder()
      .at(0)
      .limit('ACC-1', 'max_position_quantity', 1_000, { op: 'c', topic: 'cdc.desk.risk_limits' })
      .at(1)
      .position('ACC-1', 'AAPL', 950, 200, 'c', 'cdc.desk.positions');
    const params = { positionsTopic: 'cdc.desk.positions', limitsTopic: 'cdc.desk.risk_limits' };
    expect(replayRule(rule(params), scenario.events).matches).toHaveLength(0);
    expect(replayRule(rule({ ...params, thresholdPct: 90 }), scenario.events).matches).toHaveLength(1);
  });
});
