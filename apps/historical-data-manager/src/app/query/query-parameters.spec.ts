import { formatInstant, parseInstant, parseRowsQuery, QueryRejection, type QueryLimits } from './query-parameters';

const columns = ['kafka_partition', 'kafka_offset', 'record_key', 'symbol', 'price', 'size', 'ts', 'event_time'];
const limits: QueryLimits = { maxRangeMs: 31 * 24 * 3_600_000, maxRows: 1000, maxSymbols: 3 };
const now = 1_767_312_000_000_000_000n; // 2026-01-02T00:00:00Z

function rejection(query: Record<string, unknown>): QueryRejection {
  try {
    parseRowsQuery(query, columns, limits, now);
  } catch (error) {
    if (error instanceof QueryRejection) return error;
    throw error;
  }
  throw new Error('the query was accepted');
}

describe('instants in queries', () => {
  it('ISO-8601 times keep their nanoseconds and honour their zone', () => {
    expect(parseInstant('2026-01-01T00:59:59.999000123Z')).toBe(1_767_229_199_999_000_123n);
    expect(parseInstant('2026-01-01T02:59:59.999000123+02:00')).toBe(1_767_229_199_999_000_123n);
    expect(parseInstant('2026-01-01')).toBe(1_767_225_600_000_000_000n);
    expect(parseInstant('2026-01-01T00:00')).toBe(1_767_225_600_000_000_000n);
  });

  it('epoch nanoseconds above 2^53 are taken exactly', () => {
    expect(parseInstant('1767229199999000123')).toBe(1_767_229_199_999_000_123n);
  });

  it('dates that do not exist and other text are refused', () => {
    for (const bad of ['2026-02-30', '2026-01-01T24:00:00Z', 'yesterday', '1.5e18', '2026-01-01T00:00:00+25:00', '']) {
      expect(parseInstant(bad)).toBeNull();
    }
  });

  it('formats epoch nanoseconds back to ISO-8601 with all nine digits', () => {
    expect(formatInstant(1_767_229_199_999_000_123n)).toBe('2026-01-01T00:59:59.999000123Z');
    expect(formatInstant(parseInstant('2026-03-04T05:06:07.000000001Z') as bigint)).toBe('2026-03-04T05:06:07.000000001Z');
  });
});

describe('rows query parameters', () => {
  it('a full request is parsed into a range, symbols, columns, format and limit', () => {
    expect(
      parseRowsQuery(
        { from: '2026-01-01', to: '1767229200000000000', symbols: 'AAPL, MSFT,AAPL', columns: 'symbol,ts', format: 'csv', limit: '10' },
        columns,
        limits,
        now,
      ),
    ).toEqual({
      fromNs: 1_767_225_600_000_000_000n,
      toNs: 1_767_229_200_000_000_000n,
      symbols: ['AAPL', 'MSFT'],
      columns: ['symbol', 'ts'],
      format: 'csv',
      limit: 10,
      snapshot: null,
      allowPartial: false,
    });
  });

  it('allowPartial=true asks for the readable rows of a range with unreadable files; another value is a 400', () => {
    expect(parseRowsQuery({ from: '2026-01-01', allowPartial: 'true' }, columns, limits, now).allowPartial).toBe(true);
    expect(parseRowsQuery({ from: '2026-01-01', allowPartial: 'false' }, columns, limits, now).allowPartial).toBe(false);
    expect(() => parseRowsQuery({ from: '2026-01-01', allowPartial: 'yes' }, columns, limits, now)).toThrow(
      expect.objectContaining({ status: 400, parameter: 'allowPartial' }),
    );
  });

  it('a snapshot name reads that snapshot; a name that cannot be one is a 400', () => {
    expect(parseRowsQuery({ from: '2026-01-01', snapshot: 'backtest-2026.01_a' }, columns, limits, now).snapshot).toBe(
      'backtest-2026.01_a',
    );
    expect(rejection({ from: '2026-01-01', snapshot: '../etc' })).toMatchObject({ status: 400, parameter: 'snapshot' });
    expect(rejection({ from: '2026-01-01', snapshot: 'x'.repeat(129) })).toMatchObject({ status: 400, parameter: 'snapshot' });
  });

  it('without to, the range runs up to now; without columns, every column in dataset order; JSON by default', () => {
    const parsed = parseRowsQuery({ from: '2026-01-01' }, columns, limits, now);
    expect(parsed).toMatchObject({ toNs: now, columns, format: 'json', limit: null, symbols: [] });
  });

  it('a missing or unreadable from, or an unreadable to, is a 400 naming it', () => {
    expect(rejection({})).toMatchObject({ status: 400, parameter: 'from' });
    expect(rejection({ from: 'soon' })).toMatchObject({ status: 400, parameter: 'from' });
    expect(rejection({ from: '2026-01-01', to: '2026-13-01' })).toMatchObject({ status: 400, parameter: 'to' });
  });

  it('an inverted or empty range is a 400 that shows both ends', () => {
    const error = rejection({ from: '2026-01-02', to: '2026-01-01' });
    expect(error).toMatchObject({ status: 400, parameter: 'to' });
    expect(error.message).toContain('2026-01-01T00:00:00.000000000Z');
    expect(rejection({ from: '2026-01-01', to: '2026-01-01' }).status).toBe(400);
  });

  it('a range longer than the configured maximum is a 422', () => {
    expect(rejection({ from: '2025-11-01', to: '2026-01-01' })).toMatchObject({ status: 422, parameter: 'to' });
  });

  it('unknown columns are a 400 listing them and the known ones', () => {
    const error = rejection({ from: '2026-01-01', columns: 'symbol,bid,ask' });
    expect(error).toMatchObject({ status: 400, parameter: 'columns' });
    expect(error.message).toMatch(/"bid", "ask".*known: kafka_partition/);
  });

  it('an unknown format is a 400 listing the formats', () => {
    expect(rejection({ from: '2026-01-01', format: 'xml' })).toMatchObject({ status: 400, parameter: 'format' });
    expect(rejection({ from: '2026-01-01', format: 'xml' }).message).toContain('json, ndjson, csv, parquet');
  });

  it('a limit that is not a positive whole number is a 400; one above the maximum rows a 422', () => {
    expect(rejection({ from: '2026-01-01', limit: '0' })).toMatchObject({ status: 400, parameter: 'limit' });
    expect(rejection({ from: '2026-01-01', limit: 'ten' })).toMatchObject({ status: 400, parameter: 'limit' });
    expect(rejection({ from: '2026-01-01', limit: '1001' })).toMatchObject({ status: 422, parameter: 'limit' });
  });

  it('too many symbols is a 422; an unknown or repeated parameter a 400 naming it', () => {
    expect(rejection({ from: '2026-01-01', symbols: 'A,B,C,D' })).toMatchObject({ status: 422, parameter: 'symbols' });
    expect(rejection({ from: '2026-01-01', symbol: 'A' })).toMatchObject({ status: 400, parameter: 'symbol' });
    expect(rejection({ from: ['2026-01-01', '2026-01-02'] })).toMatchObject({ status: 400, parameter: 'from' });
  });
});
