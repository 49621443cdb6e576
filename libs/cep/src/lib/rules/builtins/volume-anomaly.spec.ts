import { compileRule } from '../compile';
import { replayRule } from '../harness';
import { ScenarioBuilder } from '../scenario';

const rule = (params: Record<string, unknown> = {}) =>
  compileRule({ id: 'volume_anomaly', version: 1, enabled: true, severity: 'info', builtin: 'VOLUME_ANOMALY', params: { bucketMs: 1_000, windowMs: 60_000, minSamples: 30, ...params } });

/** 40 s of NVDA trading 1,000 to 1,400 shares a second (ten trades per second). */
function usualTrading(scenario = new ScenarioBuilder()): ScenarioBuilder {
  for (let s = 0; s < 40; s++) for (let t = 0; t < 10; t++) scenario.at(s * 1_000 + t * 100).trade('NVDA', 120, 100 + ((s * 7) % 5) * 10);
  return scenario;
}

describe('VOLUME_ANOMALY', () => {
  it('fires while a bucket fills far above the usual volume, naming the z-score and ratio', () => {
    const scenario = usualTrading();
    // Second 40: a burst of 1,000-share prints.
    for (let t = 0; t < 10; t++) scenario.at(40_000 + t * 100).trade('NVDA', 120.1, 1_000);
    const { matches, alerts } = replayRule(rule(), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0].key).toBe('NVDA');
    // The usual second is 1,000-1,400 shares: the fourth 1,000-share print takes the bucket to 4,000 (> 3x).
    expect(matches[0].events['spike'][0].ts).toBe(matches[0].windowStart);
    expect(alerts[0].attributes['volume']).toBe(4_000);
    expect(Number(alerts[0].attributes['zscore'])).toBeGreaterThanOrEqual(4);
    expect(Number(alerts[0].attributes['volumeRatio'])).toBeGreaterThanOrEqual(3);
    expect(alerts[0].message).toMatch(/^NVDA volume 4000 in one 1 s of trades is [\d.]+x the usual/);
  });

  it('does not fire on a bucket just under the ratio', () => {
    const scenario = usualTrading();
    for (let t = 0; t < 10; t++) scenario.at(40_000 + t * 100).trade('NVDA', 120.1, 330);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('does not fire before the window holds minSamples buckets', () => {
    const scenario = new ScenarioBuilder();
    for (let s = 0; s < 20; s++) for (let t = 0; t < 10; t++) scenario.at(s * 1_000 + t * 100).trade('NVDA', 120, 100 + (s % 3) * 10);
    for (let t = 0; t < 10; t++) scenario.at(20_000 + t * 100).trade('NVDA', 120.1, 5_000);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('counts seconds without trades as zero volume', () => {
    const scenario = usualTrading();
    // A 50 s lull, then an ordinary second (1,100 shares): against a window of mostly zeros it is
    // five times the mean, about two standard deviations up (it would be below the mean without the zeros).
    for (let t = 0; t < 10; t++) scenario.at(90_000 + t * 100).trade('NVDA', 120, 110);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
    const { alerts } = replayRule(rule({ minZscore: 1.5, minVolumeRatio: 3 }), scenario.events);
    expect(alerts).toHaveLength(1);
    expect(Number(alerts[0].attributes['meanVolume'])).toBeLessThan(300);
  });

  it('reads candles when the source is a candle topic', () => {
    const scenario = new ScenarioBuilder();
    for (let s = 1; s <= 40; s++) scenario.at(s * 1_000).candle('NVDA', { open: 120, high: 120.1, low: 119.9, close: 120, volume: 1_000 + (s % 5) * 100 });
    scenario.at(41_000).candle('NVDA', { open: 120, high: 121, low: 119.9, close: 121, volume: 9_000 });
    const { matches } = replayRule(rule({ source: 'candles.1s' }), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0].events['spike'][0].topic).toBe('candles.1s');
  });
});
