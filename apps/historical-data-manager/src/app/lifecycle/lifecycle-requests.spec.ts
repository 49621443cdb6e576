import { parseCompactRequest, parseSnapshotRequest } from './lifecycle-requests';

function refusal(work: () => unknown): { status: number; parameter: string | null; message: string } {
  try {
    work();
  } catch (error) {
    return error as { status: number; parameter: string | null; message: string };
  }
  throw new Error('accepted');
}

describe('lifecycle requests', () => {
  it('compaction takes an empty body, a date, or a date and an hour', () => {
    expect(parseCompactRequest(undefined)).toEqual({ date: null, hour: null });
    expect(parseCompactRequest({ date: '2026-01-02' })).toEqual({ date: '2026-01-02', hour: null });
    expect(parseCompactRequest({ date: '2026-01-02', hour: 0 })).toEqual({ date: '2026-01-02', hour: 0 });
  });

  it('a bad day or hour, an hour without its date, or an unknown field is a 400 naming it', () => {
    expect(refusal(() => parseCompactRequest({ date: '2026-02-30' }))).toMatchObject({ status: 400, parameter: 'date' });
    expect(refusal(() => parseCompactRequest({ date: '2026-01-02', hour: 24 }))).toMatchObject({ status: 400, parameter: 'hour' });
    expect(refusal(() => parseCompactRequest({ date: '2026-01-02', hour: '3' }))).toMatchObject({ status: 400, parameter: 'hour' });
    expect(refusal(() => parseCompactRequest({ hour: 3 }))).toMatchObject({ status: 400, parameter: 'hour' });
    expect(refusal(() => parseCompactRequest({ day: '2026-01-02' }))).toMatchObject({ status: 400, parameter: 'day' });
    expect(refusal(() => parseCompactRequest([1]))).toMatchObject({ status: 400 });
  });

  it('a snapshot needs a name; datasets are optional (every dataset) and deduplicated', () => {
    expect(parseSnapshotRequest({ name: 'backtest-1' })).toEqual({ name: 'backtest-1', datasets: null });
    expect(parseSnapshotRequest({ name: 'b', datasets: ['market_trades', 'market_trades'] })).toEqual({
      name: 'b',
      datasets: ['market_trades'],
    });
  });

  it('a missing or unusable name, or datasets that are not a list of names, is a 400 naming the field', () => {
    expect(refusal(() => parseSnapshotRequest({}))).toMatchObject({ status: 400, parameter: 'name' });
    expect(refusal(() => parseSnapshotRequest({ name: 'a/b' }))).toMatchObject({ status: 400, parameter: 'name' });
    expect(refusal(() => parseSnapshotRequest({ name: 'a', datasets: [] }))).toMatchObject({ status: 400, parameter: 'datasets' });
    expect(refusal(() => parseSnapshotRequest({ name: 'a', datasets: 'market_trades' }))).toMatchObject({
      status: 400,
      parameter: 'datasets',
    });
    expect(refusal(() => parseSnapshotRequest({ name: 'a', at: 'now' }))).toMatchObject({ status: 400, parameter: 'at' });
  });
});
