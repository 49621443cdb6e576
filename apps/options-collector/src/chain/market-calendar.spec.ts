import {
  dateOfDay,
  dayNumber,
  INDEX_ETF_EXPIRATIONS,
  isTradingDay,
  listedExpirationDays,
  monthlyExpirationDay,
  SINGLE_STOCK_EXPIRATIONS,
  sessionCloseMs,
  sessionOpenMs,
} from './market-calendar';
import { INDEX_ETF_STRIKES, SINGLE_STOCK_STRIKES, StrikeGrid } from './strike-grid';

describe('market calendar', () => {
  it('knows the NYSE holidays, Good Friday included', () => {
    expect(isTradingDay('2025-04-18')).toBe(false); // Good Friday
    expect(isTradingDay('2025-07-04')).toBe(false);
    expect(isTradingDay('2025-11-27')).toBe(false); // Thanksgiving
    expect(isTradingDay('2026-07-03')).toBe(false); // July 4th on a Saturday, observed Friday
    expect(isTradingDay('2025-06-19')).toBe(false); // Juneteenth
    expect(isTradingDay('2025-03-08')).toBe(false); // Saturday
    expect(isTradingDay('2025-03-10')).toBe(true);
  });

  it('opens at 09:30 and closes at 16:00 New York, across daylight saving time', () => {
    expect(new Date(sessionOpenMs(dayNumber('2025-03-07'))).toISOString()).toBe('2025-03-07T14:30:00.000Z');
    expect(new Date(sessionCloseMs(dayNumber('2025-03-10'))).toISOString()).toBe('2025-03-10T20:00:00.000Z');
  });

  it('puts the monthly expiration on the third Friday, or the Thursday before a holiday', () => {
    expect(dateOfDay(monthlyExpirationDay(2025, 3))).toBe('2025-03-21');
    expect(dateOfDay(monthlyExpirationDay(2025, 4))).toBe('2025-04-17'); // Good Friday is the 18th
  });

  it('lists dailies for index ETFs and weeklies, monthlies and LEAPS for single stocks', () => {
    const spy = listedExpirationDays(INDEX_ETF_EXPIRATIONS, dayNumber('2025-03-03')).map(dateOfDay);
    expect(spy.slice(0, 6)).toEqual(['2025-03-03', '2025-03-04', '2025-03-05', '2025-03-06', '2025-03-07', '2025-03-10']);
    expect(spy).toContain('2025-03-31'); // quarterly
    const aapl = listedExpirationDays(SINGLE_STOCK_EXPIRATIONS, dayNumber('2025-03-03')).map(dateOfDay);
    expect(aapl.slice(0, 4)).toEqual(['2025-03-07', '2025-03-14', '2025-03-21', '2025-03-28']);
    expect(aapl).toContain('2025-04-17'); // weekly moved off Good Friday
    expect(aapl).toContain('2027-01-15'); // LEAPS
    expect(aapl).not.toContain('2025-03-04');
  });
});

describe('StrikeGrid', () => {
  it('lists 1-wide strikes for SPY and price-tiered strikes for single stocks', () => {
    expect(new StrikeGrid(INDEX_ETF_STRIKES).strikesAround(575.3, 5)).toEqual([573, 574, 575, 576, 577]);
    const stock = new StrikeGrid(SINGLE_STOCK_STRIKES);
    expect(stock.strikesAround(226, 4)).toEqual([220, 225, 230, 235]);
    expect(stock.strikesAround(120, 3)).toEqual([117.5, 120, 122.5]);
    // Crossing a tier boundary: 2.5 below 200, 5 above.
    expect(stock.strikesAround(200, 5)).toEqual([192.5, 195, 197.5, 200, 205]);
    expect(stock.strikesAround(0.2, 3)).toEqual([0.5, 1, 1.5]);
  });
});
