import { formatOccSymbol, isCalendarDate, optionTermsErrors, parseOccSymbol } from './option-contract';

describe('OCC option symbols', () => {
  it('parses the compact and the space-padded OSI forms', () => {
    const expected = { root: 'AAPL', expiration: '2025-04-17', right: 'call', strike: 215 };
    expect(parseOccSymbol('AAPL250417C00215000')).toEqual(expected);
    expect(parseOccSymbol('AAPL  250417C00215000')).toEqual(expected);
    expect(parseOccSymbol('SPXW251219P05912500')).toEqual({
      root: 'SPXW',
      expiration: '2025-12-19',
      right: 'put',
      strike: 5912.5,
    });
  });

  it('formats a contract back to the same symbol', () => {
    expect(formatOccSymbol({ root: 'SPXW', expiration: '2025-12-19', right: 'put', strike: 5912.5 })).toBe(
      'SPXW251219P05912500',
    );
    expect(formatOccSymbol({ root: 'F', expiration: '2026-01-16', right: 'call', strike: 12.5 })).toBe(
      'F260116C00012500',
    );
    expect(() =>
      formatOccSymbol({ root: 'AAPL', expiration: '2025-02-30', right: 'call', strike: 215 }),
    ).toThrow(RangeError);
  });

  it('refuses symbols with impossible expiry dates', () => {
    expect(parseOccSymbol('AAPL250230C00215000')).toBeUndefined();
    expect(parseOccSymbol('AAPL250417X00215000')).toBeUndefined();
  });

  it('knows real calendar dates, leap years included', () => {
    expect(isCalendarDate('2028-02-29')).toBe(true);
    expect(isCalendarDate('2025-02-29')).toBe(false);
    expect(isCalendarDate('2025-13-01')).toBe(false);
    expect(isCalendarDate('2025-4-17')).toBe(false);
  });

  it('reports each term that disagrees with the symbol', () => {
    const errors = optionTermsErrors({
      symbol: 'AAPL250417C00215000',
      expiration: '2025-04-18',
      right: 'put',
      strike: 210,
    });
    expect(errors.map((error) => error.path)).toEqual(['/expiration', '/right', '/strike']);
  });
});
