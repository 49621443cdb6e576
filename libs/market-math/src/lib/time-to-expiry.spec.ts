import { expiryInstantMs, isNewYorkDaylightSaving, yearsBetween, yearsToExpiry } from './time-to-expiry';

describe('time to expiry', () => {
  it('puts expiry at 16:00 New York: 20:00 UTC in summer time, 21:00 UTC in winter', () => {
    expect(expiryInstantMs('2025-06-20')).toBe(Date.parse('2025-06-20T20:00:00Z'));
    expect(expiryInstantMs('2025-01-17')).toBe(Date.parse('2025-01-17T21:00:00Z'));
  });

  it('follows the US clock changes on the second Sunday of March and the first Sunday of November', () => {
    // 2025: clocks go forward on 9 March, back on 2 November.
    expect(isNewYorkDaylightSaving(2025, 2, 8)).toBe(false);
    expect(isNewYorkDaylightSaving(2025, 2, 9)).toBe(true);
    expect(isNewYorkDaylightSaving(2025, 10, 1)).toBe(true);
    expect(isNewYorkDaylightSaving(2025, 10, 2)).toBe(false);
    // 2026: 8 March and 1 November.
    expect(expiryInstantMs('2026-03-06')).toBe(Date.parse('2026-03-06T21:00:00Z'));
    expect(expiryInstantMs('2026-03-13')).toBe(Date.parse('2026-03-13T20:00:00Z'));
    expect(expiryInstantMs('2026-10-30')).toBe(Date.parse('2026-10-30T20:00:00Z'));
    expect(expiryInstantMs('2026-11-06')).toBe(Date.parse('2026-11-06T21:00:00Z'));
  });

  it('agrees with the IANA time zone database on every day of 2024-2027', () => {
    const format = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hour: '2-digit', hourCycle: 'h23' });
    for (let day = Date.UTC(2024, 0, 1); day < Date.UTC(2028, 0, 1); day += 86_400_000) {
      const date = new Date(day).toISOString().slice(0, 10);
      const instant = expiryInstantMs(date);
      expect(instant).not.toBeNull();
      expect(format.format(new Date(instant ?? 0))).toBe('16');
    }
  });

  it('counts ACT/365 years from a nanosecond event time, sub-millisecond included', () => {
    const eventNs = BigInt(Date.parse('2025-06-19T20:00:00Z')) * 1_000_000n + 500_000n;
    const years = yearsToExpiry('2025-06-20', eventNs.toString());
    expect(years).not.toBeNull();
    expect(Math.abs((years ?? 0) - (86_400_000 - 0.5) / (365 * 86_400_000))).toBeLessThan(1e-18);
    expect(yearsToExpiry('2025-06-20', eventNs)).toBe(years);
    expect(yearsBetween(0, 365 * 86_400_000)).toBe(1);
  });

  it('is negative once the option has expired, and null for malformed dates and times', () => {
    expect(yearsToExpiry('2025-06-20', String(Date.parse('2025-06-21T00:00:00Z') * 1e6))).toBeLessThan(0);
    expect(yearsToExpiry('2025-02-30', '0')).toBeNull();
    expect(yearsToExpiry('20250620', '0')).toBeNull();
    expect(yearsToExpiry('2025-06-20', 'not-a-time')).toBeNull();
  });
});
