import { compileRule } from '../compile';
import { replayRule } from '../harness';
import { ScenarioBuilder } from '../scenario';

const rule = (params: Record<string, unknown> = {}) =>
  compileRule({ id: 'sentiment_price', version: 1, enabled: true, severity: 'warning', builtin: 'SENTIMENT_PRICE', params: { windowMs: 600_000, ...params } });

/** TSLA trading every 10 s at 260 for a minute, then `news` at 60 s, then prices from `path`. */
function story(news: (scenario: ScenarioBuilder) => void, path: number[], everyMs = 10_000): ScenarioBuilder {
  const scenario = new ScenarioBuilder();
  for (let i = 0; i < 6; i++) scenario.at(i * 10_000).trade('TSLA', 260);
  scenario.at(60_000);
  news(scenario);
  path.forEach((price, i) => scenario.at(60_000 + (i + 1) * everyMs).trade('TSLA', price));
  return scenario;
}

describe('SENTIMENT_PRICE', () => {
  it('fires when negative news of a symbol is followed by a fall of more than 2% from the price before it', () => {
    const scenario = story((s) => s.news(['TSLA', 'GM'], -0.72, { articleId: 'rt-1', headline: 'Recall of 2 million cars' }), [259, 257, 255, 254.5, 254]);
    const { matches, alerts } = replayRule(rule(), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0].key).toBe('TSLA');
    expect(matches[0].events['news'][0].topic).toBe('news.sentiment');
    // 254.5 is the first price at least 2% under 260 (254.8).
    expect((matches[0].events['drop'][0].event.value as { price: number }).price).toBe(254.5);
    expect(alerts[0].attributes).toMatchObject({ referencePrice: 260, price: 254.5, sentiment: -0.72, articleId: 'rt-1', secondsAfterNews: 40 });
    expect(Number(alerts[0].attributes['dropPct'])).toBeCloseTo(2.1154, 3);
    expect(alerts[0].message).toBe('TSLA down 2.12% (260 -> 254.5) 40 s after negative news (sentiment -0.72): Recall of 2 million cars');
  });

  it('keys news by its primary symbol only', () => {
    const scenario = story((s) => s.news(['GM', 'TSLA'], -0.9), [250]);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('does not fire for sentiment of -0.5 exactly or above', () => {
    expect(replayRule(rule(), story((s) => s.news(['TSLA'], -0.5), [250]).events).matches).toHaveLength(0);
  });

  it('does not fire for a fall just under 2%', () => {
    expect(replayRule(rule(), story((s) => s.news(['TSLA'], -0.8), [256, 254.9, 255]).events).matches).toHaveLength(0);
  });

  it('does not fire when the fall comes after the window', () => {
    expect(replayRule(rule(), story((s) => s.news(['TSLA'], -0.8), [259, 250], 400_000).events).matches).toHaveLength(0);
  });

  it('does not fire when the fall came before the news', () => {
    const scenario = new ScenarioBuilder().at(0).trade('TSLA', 260).at(10_000).trade('TSLA', 250).at(20_000).news(['TSLA'], -0.9).at(30_000).trade('TSLA', 250);
    expect(replayRule(rule(), scenario.events).matches).toHaveLength(0);
  });

  it('raises one alert for a drop that follows two negative articles', () => {
    const scenario = story((s) => s.news(['TSLA'], -0.8).advance(5_000).news(['TSLA'], -0.6), [255, 250, 249]);
    const { matches } = replayRule(rule(), scenario.events);
    expect(matches).toHaveLength(1);
    expect(matches[0].events['news'][0].offset).toBe('0');
  });

  it('ignores articles below minConfidence', () => {
    const scenario = story((s) => s.news(['TSLA'], -0.8, { confidence: 0.4 }), [250]);
    expect(replayRule(rule({ minConfidence: 0.5 }), scenario.events).matches).toHaveLength(0);
    expect(replayRule(rule({ minConfidence: 0.4 }), scenario.events).matches).toHaveLength(1);
  });
});
