import { compileRule } from '../compile';
import { replayRule } from '../harness';
import { ScenarioBuilder } from '../scenario';

const rule = (params: Record<string, unknown> = {}) =>
  compileRule({
    id: 'momentum_surge',
    version: 3,
    enabled: true,
    severity: 'warning',
    builtin: 'MOMENTUM_SURGE',
    params: { windowMs: 10_000, baselineMs: 60_000, minSamples: 5, minPriceChangePct: 1, minVolumeRatio: 3, cooldownMs: 30_000, ...params },
  });

/** A quiet minute of AAPL (a trade of 100 shares every 500 ms around 200.00), then `then`. */
function quietMinute(scenario = new ScenarioBuilder()): ScenarioBuilder {
  for (let i = 0; i < 120; i++) scenario.at(i * 500).trade('AAPL', 200 + (i % 2) * 0.02, 100);
  return scenario;
}

describe('MOMENTUM_SURGE', () => {
  it('fires once when the price rises past 1% within the window on heavy volume, naming the move and the volume ratio', () => {
    const scenario = quietMinute();
    // 5 s of buying: price up 0.3% per trade on 2,000-share prints.
    for (let i = 1; i <= 5; i++) scenario.at(60_000 + i * 1_000).trade('AAPL', 200 * (1 + 0.003 * i), 2_000);
    // It keeps rising: the same episode, no second alert.
    for (let i = 6; i <= 8; i++) scenario.at(60_000 + i * 1_000).trade('AAPL', 200 * (1 + 0.003 * i), 2_000);
    const { matches, alerts } = replayRule(rule(), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0]).toMatchObject({ patternId: 'momentum_surge', version: 3, key: 'AAPL' });
    // Fourth surge trade: 200 -> 202.4 (+1.2%), the first where the move passes 1%.
    const [surge] = matches[0].events['surge'];
    expect((surge.event.value as { price: number }).price).toBeCloseTo(202.4, 6);
    expect(alerts[0].attributes['priceChangePct']).toBeCloseTo(1.2, 1);
    expect(Number(alerts[0].attributes['volumeRatio'])).toBeGreaterThan(3);
    expect(alerts[0].message).toMatch(/^AAPL up 1\.\d+% in 10 s on [\d.]+x its usual volume/);
  });

  it('fires for a fall too, and only downwards when direction is down', () => {
    const scenario = quietMinute();
    for (let i = 1; i <= 5; i++) scenario.at(60_000 + i * 1_000).trade('AAPL', 200 * (1 - 0.003 * i), 2_000);
    expect(replayRule(rule(), scenario.events).alerts[0].message).toMatch(/^AAPL down 1\.\d+%/);
    expect(replayRule(rule({ direction: 'up' }), scenario.events).matches).toHaveLength(0);
    expect(replayRule(rule({ direction: 'down' }), scenario.events).matches).toHaveLength(1);
  });

  it('does not fire on the same move without a volume surge', () => {
    const scenario = quietMinute();
    for (let i = 1; i <= 5; i++) scenario.at(60_000 + i * 1_000).trade('AAPL', 200 * (1 + 0.003 * i), 100);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('does not fire on heavy volume with a move just under the threshold', () => {
    const scenario = quietMinute();
    for (let i = 1; i <= 5; i++) scenario.at(60_000 + i * 1_000).trade('AAPL', 200 * (1 + 0.0019 * i), 2_000);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('does not fire when the same move is spread over more than the window', () => {
    const scenario = quietMinute();
    for (let i = 1; i <= 10; i++) scenario.at(60_000 + i * 3_000).trade('AAPL', 200 * (1 + 0.0015 * i), 2_000);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('fires again for a second surge after the cooldown, not within it', () => {
    const scenario = quietMinute();
    for (let i = 1; i <= 5; i++) scenario.at(60_000 + i * 1_000).trade('AAPL', 200 * (1 + 0.003 * i), 2_000);
    // Calm at the new level for 40 s (the move leaves the window), then a second surge.
    for (let i = 0; i < 80; i++) scenario.at(66_000 + i * 500).trade('AAPL', 203 + (i % 2) * 0.02, 100);
    for (let i = 1; i <= 5; i++) scenario.at(106_000 + i * 1_000).trade('AAPL', 203 * (1 + 0.004 * i), 4_000);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(2);
    expect(replayRule(rule({ cooldownMs: 60_000 }), scenario.events).matches).toHaveLength(1);
  });

  it('reads 1 s candles when the source is candles', () => {
    const scenario = new ScenarioBuilder();
    for (let s = 1; s <= 60; s++) scenario.at(s * 1_000).candle('AAPL', { open: 200, high: 200.05, low: 199.95, close: 200.01, volume: 200 });
    for (let s = 61; s <= 65; s++) {
      const open = 200 * (1 + 0.003 * (s - 61));
      scenario.at(s * 1_000).candle('AAPL', { open, high: open * 1.003, low: open, close: open * 1.003, volume: 4_000 });
    }
    const { matches } = replayRule(rule({ source: 'candles' }), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0].events['surge'][0].topic).toBe('candles.1s');
  });
});
