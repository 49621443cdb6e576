import { join } from 'node:path';
import { parseJobParams, type BatchJobRequest } from '../batch-request';
import { ns, openTestDuck, tableRows, testContext, type TestColumns, type TestDuck, writeParquet } from '../testing/batch-test-kit';
import { runFlowJob } from './flow-job';
import { runSentimentJob } from './sentiment-job';

const M = 60_000_000_000n;
const T0 = ns('2026-03-02T15:00:00Z');

const FLOW: TestColumns = { underlying: 'VARCHAR', symbol: 'VARCHAR', kind: 'VARCHAR', side: 'VARCHAR', right: 'VARCHAR', premium: 'DOUBLE', size: 'BIGINT', ts: 'BIGINT' };
const SENTIMENT: TestColumns = {
  kafka_partition: 'INTEGER',
  kafka_offset: 'BIGINT',
  articleId: 'VARCHAR',
  symbols: 'VARCHAR',
  sentiment: 'DOUBLE',
  confidence: 'DOUBLE',
  ts: 'BIGINT',
};

describe('options flow and sentiment aggregates by symbol and window', () => {
  let duck: TestDuck;
  beforeAll(async () => {
    duck = await openTestDuck();
  });
  afterAll(() => duck.close());

  it('sums options flow per underlying and window: count, contracts, premium by kind, side and right', async () => {
    const flow = (underlying: string, minute: number, kind: string, side: string, right: string, premium: number, size: number) => ({
      underlying,
      symbol: `${underlying}260320C00100000`,
      kind,
      side,
      right,
      premium,
      size: BigInt(size),
      ts: T0 + BigInt(minute) * M + 1n,
    });
    const path = await writeParquet(duck.connection, join(duck.dir, 'flow.parquet'), FLOW, [
      flow('AAPL', 0, 'sweep', 'buy', 'call', 0.1, 10),
      flow('AAPL', 1, 'sweep', 'buy', 'call', 0.2, 20),
      flow('AAPL', 4, 'block', 'sell', 'put', 150000.5, 500),
      flow('AAPL', 5, 'split', 'mid', 'call', 1000, 5),
      flow('TSLA', 2, 'unusual_volume', 'unknown', 'put', 250, 1),
    ]);
    const request: BatchJobRequest = { job: 'flow', fromNs: T0, toNs: T0 + 10n * M, symbols: [], params: parseJobParams('flow', { window: '5m' }) };
    const context = testContext(duck.connection, request, { options_flow: [path] });
    const output = await runFlowJob(context);
    expect(output.outputs[0]?.dataset).toBe('gold_options_flow_5m');
    // the files' symbols are contracts: they are not used for pruning by underlying
    expect(context.asked[0]?.symbols).toEqual([]);
    const rows = await tableRows(duck.connection, 'flow_5m', 'underlying, ts');
    expect(rows).toEqual([
      expect.objectContaining({
        underlying: 'AAPL',
        windowStart: T0,
        windowEnd: T0 + 5n * M,
        flows: 3n,
        contracts: 530n,
        // exact: 0.1 + 0.2 + 150000.5, not the float sum
        premium: 150000.8,
        sweeps: 2n,
        sweepsPremium: 0.3,
        blocks: 1n,
        blocksPremium: 150000.5,
        splits: 0n,
        buyFlows: 2n,
        buyPremium: 0.3,
        sellFlows: 1n,
        callPremium: 0.3,
        putPremium: 150000.5,
        putCallPremiumRatio: 150000.5 / 0.3,
      }),
      expect.objectContaining({ underlying: 'AAPL', windowStart: T0 + 5n * M, flows: 1n, splits: 1n, midPremium: 1000, putCallPremiumRatio: 0 }),
      expect.objectContaining({ underlying: 'TSLA', windowStart: T0, unusualVolume: 1n, unknownFlows: 1n, callPremium: 0, putCallPremiumRatio: null }),
    ]);
  });

  it('averages sentiment per symbol and window, counting a re-scored article once with its latest score', async () => {
    let offset = 0n;
    const article = (id: string, symbols: string[], minute: number, sentiment: number, confidence = 1) => ({
      kafka_partition: 0,
      kafka_offset: offset++,
      articleId: id,
      symbols: JSON.stringify(symbols),
      sentiment,
      confidence,
      ts: T0 + BigInt(minute) * M,
    });
    const path = await writeParquet(duck.connection, join(duck.dir, 'sentiment.parquet'), SENTIMENT, [
      // the window before the range: read for the change of the mean only
      article('a0', ['AAPL'], -30, 0.1),
      article('a1', ['AAPL', 'MSFT'], 5, 0.5, 0.8),
      article('a2', ['AAPL'], 20, -0.9, 0.6),
      article('a2', ['AAPL'], 20, 0.3, 0.9), // a2 re-scored: this one counts
      article('a3', ['MSFT', 'MSFT'], 70, -0.2),
    ]);
    const H = 60n * M;
    const request: BatchJobRequest = { job: 'sentiment', fromNs: T0, toNs: T0 + 2n * H, symbols: [], params: parseJobParams('sentiment', {}) };
    const context = testContext(duck.connection, request, { news_sentiment: [path] });
    await runSentimentJob(context);
    expect(context.asked).toEqual([{ dataset: 'news_sentiment', fromNs: T0 - H, toNs: T0 + 2n * H, symbols: [] }]);
    const rows = await tableRows(duck.connection, 'sentiment_1h', 'symbol, ts');
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ symbol: 'AAPL', windowStart: T0, windowEnd: T0 + H, articles: 2n, minSentiment: 0.3, maxSentiment: 0.5, previousMeanSentiment: 0.1 });
    expect(rows[0]?.['meanSentiment']).toBeCloseTo(0.4, 12);
    expect(rows[0]?.['meanConfidence']).toBeCloseTo(0.85, 12);
    expect(rows[0]?.['meanSentimentChange']).toBeCloseTo(0.3, 12);
    expect(rows[1]).toMatchObject({ symbol: 'MSFT', windowStart: T0, articles: 1n, meanSentiment: 0.5, previousMeanSentiment: null });
    // an article naming a symbol twice counts once for it
    expect(rows[2]).toMatchObject({ symbol: 'MSFT', windowStart: T0 + H, articles: 1n, meanSentiment: -0.2, previousMeanSentiment: 0.5 });
    expect(rows[2]?.['meanSentimentChange']).toBeCloseTo(-0.7, 12);
  });
});
