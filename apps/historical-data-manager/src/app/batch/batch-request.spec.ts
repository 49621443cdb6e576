import { BatchRequestRejection, outputDatasetsOf, parseBatchJobRequest } from './batch-request';
import { dueRuns, nextDueAt, parseBatchSchedule } from './batch-schedule';
import { ns } from './testing/batch-test-kit';

const limits = { maxRangeMs: 7 * 86_400_000, maxSymbols: 3 };

function rejection(body: unknown): { status: number; parameter: string | null; message: string } {
  try {
    parseBatchJobRequest(body, limits);
  } catch (error) {
    if (error instanceof BatchRequestRejection) return { status: error.status, parameter: error.parameter, message: error.message };
    throw error;
  }
  throw new Error('accepted');
}

describe('batch run requests (POST /v1/jobs)', () => {
  it('accepts a job over a range with symbols and parameters, defaults filled in', () => {
    const request = parseBatchJobRequest(
      { job: 'flow', from: '2026-03-02T15:00:00Z', to: '2026-03-02T16:00:00Z', symbols: 'SPY,AAPL', params: { window: '15m' } },
      limits,
    );
    expect(request).toEqual({
      job: 'flow',
      fromNs: ns('2026-03-02T15:00:00Z'),
      toNs: ns('2026-03-02T16:00:00Z'),
      symbols: ['AAPL', 'SPY'],
      params: { window: '15m', flowDataset: 'options_flow' },
    });
    expect(outputDatasetsOf(request)).toEqual(['gold_options_flow_15m']);
    const candles = parseBatchJobRequest({ job: 'candles', from: '1772463600000000000', to: '2026-03-02T16:00Z' }, limits);
    expect(outputDatasetsOf(candles)).toEqual(['gold_candles_1s', 'gold_candles_10s', 'gold_candles_1m']);
  });

  it.each([
    [{ job: 'nope', from: '2026-03-02', to: '2026-03-03' }, 400, 'job', /one of candles, reconcile/],
    [{ job: 'candles', to: '2026-03-03' }, 400, 'from', /required/],
    [{ job: 'candles', from: 'yesterday', to: '2026-03-03' }, 400, 'from', /neither an ISO-8601/],
    [{ job: 'candles', from: '2026-03-03', to: '2026-03-02' }, 400, 'to', /empty or inverted/],
    [{ job: 'candles', from: '2026-03-01', to: '2026-03-30' }, 422, 'to', /at most/],
    [{ job: 'candles', from: '2026-03-02T15:00:30Z', to: '2026-03-02T16:00Z' }, 400, 'from', /1m boundary/],
    [{ job: 'sentiment', from: '2026-03-02T15:00Z', to: '2026-03-02T15:30Z' }, 400, 'to', /1h boundary/],
    [{ job: 'candles', from: '2026-03-02', to: '2026-03-03', symbols: ['aapl'] }, 400, 'symbols', /not a ticker/],
    [{ job: 'candles', from: '2026-03-02', to: '2026-03-03', symbols: ['A', 'B', 'C', 'D'] }, 422, 'symbols', /at most 3/],
    [{ job: 'candles', from: '2026-03-02', to: '2026-03-03', params: { intervals: ['5s'] } }, 400, 'params.intervals', /not one of 1s, 10s, 1m/],
    [{ job: 'candles', from: '2026-03-02', to: '2026-03-03', params: { window: '5m' } }, 400, 'params.window', /unknown parameter/],
    [{ job: 'features', from: '2026-03-02', to: '2026-03-03', params: { smaPeriod: 50, warmup: 10 } }, 400, 'params.warmup', /at least the longest period/],
    [{ job: 'features', from: '2026-03-02', to: '2026-03-03', params: { rsiPeriod: 1.5 } }, 400, 'params.rsiPeriod', /whole number/],
    [{ job: 'candles', from: '2026-03-02', to: '2026-03-03', extra: 1 }, 400, 'extra', /unknown field/],
    [[1, 2], 400, null, /JSON object/],
  ])('refuses %j with %i naming %s', (body, status, parameter, message) => {
    const refused = rejection(body);
    expect(refused).toMatchObject({ status, parameter });
    expect(refused.message).toMatch(message);
  });
});

describe('BATCH_SCHEDULE', () => {
  const H = 3_600_000_000_000n;
  const M = 60_000_000_000n;

  it('reads <job>@<period> entries and refuses bad ones by name', () => {
    expect(parseBatchSchedule(['candles@1h', 'reconcile@60m'])).toEqual([
      { job: 'candles', periodNs: H, text: 'candles@1h' },
      { job: 'reconcile', periodNs: H, text: 'reconcile@1h' },
    ]);
    expect(() => parseBatchSchedule(['candles'])).toThrow(/"candles" is not <job>@<period>/);
    expect(() => parseBatchSchedule(['backtest@1h'])).toThrow(/unknown job backtest/);
    expect(() => parseBatchSchedule(['candles@7h'])).toThrow(/must divide a day/);
  });

  it('runs each entry over the period that ended, once the delay has passed, in the order listed', () => {
    const entries = parseBatchSchedule(['candles@1h', 'reconcile@1h', 'flow@15m']);
    const start = ns('2026-03-02T15:00:00Z');
    // 16:00 + 2 min delay: the 15:00-16:00 hour of both hourly jobs, and the 15:45-16:00 quarter
    const due = dueRuns(entries, start + 59n * M, start + H + 2n * M, 2n * M);
    expect(due.map((d) => [d.entry.job, d.fromNs, d.toNs])).toEqual([
      ['candles', start, start + H],
      ['reconcile', start, start + H],
      ['flow', start + 45n * M, start + H],
    ]);
    // nothing twice: the next check starts where this one ended
    expect(dueRuns(entries, start + H + 2n * M, start + H + 3n * M, 2n * M)).toEqual([]);
    expect(nextDueAt(entries, start + H + 2n * M, 2n * M)).toBe(start + H + 17n * M);
  });
});

describe('datasets a batch job may read', () => {
  const archivedTopics = ['market.trades', 'replay.trades:market.trades', 'options.flow', 'market.quotes', 'cdc.public.accounts'];
  const refused = (params: Record<string, unknown>, job = 'candles') => {
    try {
      parseBatchJobRequest({ job, from: '2026-03-02T15:00:00Z', to: '2026-03-02T16:00:00Z', params }, { ...limits, archivedTopics });
    } catch (error) {
      if (error instanceof BatchRequestRejection) return { status: error.status, parameter: error.parameter, message: error.message };
      throw error;
    }
    return null;
  };

  it('a job reads its default dataset, or an archived dataset whose records follow the same catalog topic', () => {
    expect(refused({})).toBeNull();
    expect(refused({ tradesDataset: 'replay_trades' })).toBeNull();
    expect(refused({ flowDataset: 'options_flow' }, 'flow')).toBeNull();
  });

  it('a job naming a dataset of another kind is refused with 400 naming the datasets it may read', () => {
    expect(refused({ tradesDataset: 'cdc_public_accounts' })).toEqual({
      status: 400,
      parameter: 'params.tradesDataset',
      message: 'the candles job cannot read "cdc_public_accounts" through params.tradesDataset; allowed: market_trades, replay_trades',
    });
    expect(refused({ tradesDataset: 'market_quotes' }, 'reconcile')).toMatchObject({ status: 400, parameter: 'params.tradesDataset' });
    expect(refused({ sentimentDataset: 'market_trades' }, 'sentiment')).toMatchObject({
      status: 400,
      parameter: 'params.sentimentDataset',
      message: expect.stringContaining('allowed: news_sentiment'),
    });
    expect(refused({ realtimePrefix: 'market_' }, 'reconcile')).toMatchObject({
      status: 400,
      parameter: 'params.realtimePrefix',
      message: expect.stringContaining('allowed: candles_'),
    });
  });
});
