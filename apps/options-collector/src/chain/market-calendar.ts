/**
 * The US listed-options calendar in exchange time (America/New_York): trading days (NYSE holidays),
 * session open and close, and the expirations a product lists on a given day. Dates are 'YYYY-MM-DD'
 * strings at the edges and epoch day numbers inside, so the hot paths do integer arithmetic only.
 */

const MS_PER_DAY = 86_400_000;
const MS_PER_MINUTE = 60_000;

/** Days since 1970-01-01 of a 'YYYY-MM-DD' date. */
export function dayNumber(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / MS_PER_DAY;
}

/** 'YYYY-MM-DD' of a day number. */
export function dateOfDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return dateOfDay(dayNumber(date) + days);
}

/** 0 = Sunday ... 6 = Saturday. */
export function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

function dayOf(year: number, month: number, dayOfMonth: number): number {
  return Date.UTC(year, month - 1, dayOfMonth) / MS_PER_DAY;
}

/** The n-th (1-based) given weekday of a month; n = -1 for the last one. */
function nthWeekday(year: number, month: number, wanted: number, n: number): number {
  if (n > 0) {
    const first = dayOf(year, month, 1);
    return first + ((wanted - weekday(first) + 7) % 7) + (n - 1) * 7;
  }
  const last = dayOf(year, month + 1, 0);
  return last - ((weekday(last) - wanted + 7) % 7);
}

/** Easter Sunday (Gregorian, anonymous algorithm): Good Friday, two days earlier, is an NYSE holiday. */
function easterSunday(year: number): number {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const dayOfMonth = ((h + l - 7 * m + 114) % 31) + 1;
  return dayOf(year, month, dayOfMonth);
}

/** A fixed-date holiday on a weekend is observed on the Friday before or the Monday after. */
function observed(day: number): number {
  const wd = weekday(day);
  return wd === 6 ? day - 1 : wd === 0 ? day + 1 : day;
}

const holidayCache = new Map<number, ReadonlySet<number>>();

/** NYSE full-day closures of a year (early closes are not modelled: the session still happens). */
export function nyseHolidays(year: number): ReadonlySet<number> {
  let holidays = holidayCache.get(year);
  if (holidays) return holidays;
  const days = [
    nthWeekday(year, 1, 1, 3), // Martin Luther King Jr. Day
    nthWeekday(year, 2, 1, 3), // Washington's Birthday
    easterSunday(year) - 2, // Good Friday
    nthWeekday(year, 5, 1, -1), // Memorial Day
    observed(dayOf(year, 7, 4)),
    nthWeekday(year, 9, 1, 1), // Labor Day
    nthWeekday(year, 11, 4, 4), // Thanksgiving
    observed(dayOf(year, 12, 25)),
  ];
  // New Year's Day on a Saturday is not observed on the Friday before (NYSE rule 7.2).
  const newYear = dayOf(year, 1, 1);
  if (weekday(newYear) !== 6) days.push(observed(newYear));
  if (year >= 2022) days.push(observed(dayOf(year, 6, 19))); // Juneteenth
  holidays = new Set(days);
  holidayCache.set(year, holidays);
  return holidays;
}

export function isTradingDayNumber(day: number): boolean {
  const wd = weekday(day);
  if (wd === 0 || wd === 6) return false;
  return !nyseHolidays(new Date(day * MS_PER_DAY).getUTCFullYear()).has(day);
}

export function isTradingDay(date: string): boolean {
  return isTradingDayNumber(dayNumber(date));
}

/** The first trading day on or after the given day. */
export function tradingDayOnOrAfter(day: number): number {
  while (!isTradingDayNumber(day)) day++;
  return day;
}

/** The last trading day on or before the given day (an expiration on a holiday moves earlier). */
export function tradingDayOnOrBefore(day: number): number {
  while (!isTradingDayNumber(day)) day--;
  return day;
}

/**
 * Minutes to add to New York local time to get UTC: 240 in daylight saving time, 300 otherwise.
 * US rule since 2007: from the second Sunday of March 02:00 local to the first Sunday of November 02:00.
 */
export function easternOffsetMinutes(utcMs: number): number {
  const year = new Date(utcMs).getUTCFullYear();
  const start = nthWeekday(year, 3, 0, 2) * MS_PER_DAY + 7 * 3_600_000;
  const end = nthWeekday(year, 11, 0, 1) * MS_PER_DAY + 6 * 3_600_000;
  return utcMs >= start && utcMs < end ? 240 : 300;
}

/** Epoch ms of a New York wall-clock time on a day. */
export function easternTimeMs(day: number, hour: number, minute = 0): number {
  const naive = day * MS_PER_DAY + (hour * 60 + minute) * MS_PER_MINUTE;
  // The offset at the naive instant is right except within hours of a switch, never at market hours.
  return naive + easternOffsetMinutes(naive) * MS_PER_MINUTE;
}

/** The New York calendar day number of an instant. */
export function easternDay(utcMs: number): number {
  return Math.floor((utcMs - easternOffsetMinutes(utcMs) * MS_PER_MINUTE) / MS_PER_DAY);
}

/** 09:30 New York. */
export function sessionOpenMs(day: number): number {
  return easternTimeMs(day, 9, 30);
}

/** 16:00 New York: options stop trading and the day's expirations expire. */
export function sessionCloseMs(day: number): number {
  return easternTimeMs(day, 16, 0);
}

/** How a product lists expirations; the defaults follow SPY/QQQ and single-stock options. */
export interface ExpirationRules {
  /** Every trading day is an expiration (SPY, QQQ, IWM), listed this many calendar days ahead; 0 for none. */
  readonly dailyDays: number;
  /** Weekly (Friday) expirations listed this many weeks ahead; 0 for none. */
  readonly weeklyWeeks: number;
  /** Standard monthly (third Friday) expirations listed this many months ahead. */
  readonly monthlyMonths: number;
  /** End-of-quarter expirations (last trading day of Mar, Jun, Sep, Dec) listed this many quarters ahead; 0 for none. */
  readonly quarterlyQuarters: number;
  /** January LEAPS listed this many years ahead beyond the monthlies. */
  readonly leapsYears: number;
}

export const INDEX_ETF_EXPIRATIONS: ExpirationRules = {
  dailyDays: 35,
  weeklyWeeks: 8,
  monthlyMonths: 12,
  quarterlyQuarters: 8,
  leapsYears: 2,
};

export const SINGLE_STOCK_EXPIRATIONS: ExpirationRules = {
  dailyDays: 0,
  weeklyWeeks: 6,
  monthlyMonths: 9,
  quarterlyQuarters: 0,
  leapsYears: 2,
};

/** Third Friday of a month, or the Thursday before when that Friday is a holiday. */
export function monthlyExpirationDay(year: number, month: number): number {
  return tradingDayOnOrBefore(nthWeekday(year, month, 5, 3));
}

/**
 * The expirations listed on `tradeDay` (itself included when it is one), ascending, as day numbers.
 * Real listings vary a little by product and exchange; these rules give the same shape of chain.
 */
export function listedExpirationDays(rules: ExpirationRules, tradeDay: number): number[] {
  const days = new Set<number>();
  if (rules.dailyDays > 0) {
    for (let day = tradeDay; day <= tradeDay + rules.dailyDays; day++) {
      if (isTradingDayNumber(day)) days.add(day);
    }
  }
  const nextFriday = tradeDay + ((5 - weekday(tradeDay) + 7) % 7);
  for (let week = 0; week < rules.weeklyWeeks; week++) {
    const expiry = tradingDayOnOrBefore(nextFriday + week * 7);
    if (expiry >= tradeDay) days.add(expiry);
  }
  const tradeDate = new Date(tradeDay * MS_PER_DAY);
  const year = tradeDate.getUTCFullYear();
  const month = tradeDate.getUTCMonth() + 1;
  let listedMonthlies = 0;
  for (let offset = 0; listedMonthlies < rules.monthlyMonths; offset++) {
    const y = year + Math.floor((month - 1 + offset) / 12);
    const m = ((month - 1 + offset) % 12) + 1;
    const expiry = monthlyExpirationDay(y, m);
    if (expiry < tradeDay) continue;
    days.add(expiry);
    listedMonthlies++;
  }
  for (let leaps = 1; leaps <= rules.leapsYears; leaps++) {
    days.add(monthlyExpirationDay(year + leaps, 1));
  }
  let listedQuarterlies = 0;
  for (let offset = 0; listedQuarterlies < rules.quarterlyQuarters; offset++) {
    const quarterMonth = 3 * (Math.floor((month - 1) / 3) + 1 + offset); // 3, 6, 9, 12, 15, ...
    const y = year + Math.floor((quarterMonth - 1) / 12);
    const m = ((quarterMonth - 1) % 12) + 1;
    const expiry = tradingDayOnOrBefore(dayOf(y, m + 1, 0));
    if (expiry < tradeDay) continue;
    days.add(expiry);
    listedQuarterlies++;
  }
  return [...days].sort((a, b) => a - b);
}
