// Time to expiry on the ACT/365 basis (calendar time, 365-day years) that the pricing
// functions take as `years`.
//
// US listed equity and index options stop trading at 16:00 America/New_York on their
// expiration date (PM-settled; AM-settled index options are out of scope here). New York is
// UTC−4 in daylight saving time and UTC−5 otherwise; the US rule in force since 2007 moves
// the clocks at 02:00 local on the second Sunday of March and the first Sunday of November,
// so at 16:00 on any date the offset is simply "is the date inside [2nd Sun Mar, 1st Sun Nov)".
// The rule is computed rather than looked up in Intl so results are identical on every host.

const MS_PER_DAY = 86_400_000;
const MS_PER_YEAR = 365 * MS_PER_DAY;
const NS_PER_MS = 1_000_000n;
const EXPIRY_HOUR_NEW_YORK = 16;

const EXPIRATION_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Day of month of the n-th Sunday of a month (month 0-based), in UTC calendar terms. */
function nthSunday(year: number, month: number, n: number): number {
  const firstWeekday = new Date(Date.UTC(year, month, 1)).getUTCDay();
  const firstSunday = 1 + ((7 - firstWeekday) % 7);
  return firstSunday + 7 * (n - 1);
}

/** Whether 16:00 New York time on this date falls in daylight saving time (US rule since 2007). */
export function isNewYorkDaylightSaving(year: number, month: number, day: number): boolean {
  if (month < 2 || month > 10) return false;
  if (month > 2 && month < 10) return true;
  if (month === 2) return day >= nthSunday(year, 2, 2);
  return day < nthSunday(year, 10, 1);
}

/**
 * The instant (epoch milliseconds) at which an option expiring on `expiration` ("YYYY-MM-DD",
 * as in OCC symbols and the contracts topic) stops trading: 16:00 America/New_York. Returns
 * null for a malformed date.
 */
export function expiryInstantMs(expiration: string): number | null {
  const match = EXPIRATION_PATTERN.exec(expiration);
  if (match === null) return null;
  const year = Number(match[1]);
  const month = Number(match[2]) - 1;
  const day = Number(match[3]);
  const midnight = Date.UTC(year, month, day);
  const check = new Date(midnight);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month || check.getUTCDate() !== day) return null;
  const utcOffsetHours = isNewYorkDaylightSaving(year, month, day) ? 4 : 5;
  return midnight + (EXPIRY_HOUR_NEW_YORK + utcOffsetHours) * 3_600_000;
}

/** Years between two instants in epoch milliseconds, ACT/365 (negative once `toMs` is past). */
export function yearsBetween(fromMs: number, toMs: number): number {
  return (toMs - fromMs) / MS_PER_YEAR;
}

/**
 * Years from an event time (epoch nanoseconds, as carried on every Tributary event, given as
 * the decimal string or a bigint) to the 16:00 New York close of the expiration date, ACT/365.
 * Zero or negative once the option has expired; null for a malformed date or time.
 */
export function yearsToExpiry(expiration: string, eventTimeNs: string | bigint): number | null {
  const expiryMs = expiryInstantMs(expiration);
  if (expiryMs === null) return null;
  let nanos: bigint;
  try {
    nanos = typeof eventTimeNs === 'bigint' ? eventTimeNs : BigInt(eventTimeNs);
  } catch {
    return null;
  }
  // Whole milliseconds as an exact integer, the sub-millisecond rest as a fraction.
  const wholeMs = nanos / NS_PER_MS;
  const restMs = Number(nanos - wholeMs * NS_PER_MS) / 1e6;
  return yearsBetween(Number(wholeMs) + restMs, expiryMs);
}
