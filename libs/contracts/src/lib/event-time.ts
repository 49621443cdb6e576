/**
 * Event times are epoch nanoseconds (UTC) written as decimal strings, like Databento's JSON output:
 * nanosecond timestamps (~1.7e18) exceed 2^53 and would silently lose their last digits as JSON
 * numbers. These helpers convert without loss; the hot-path ones avoid BigInt.
 */
export type EpochNanos = string;

/** Canonical form: no sign, no leading zeros, at most 19 digits (fits a signed 64-bit integer's range of years). */
export const EPOCH_NANOS_PATTERN = '^(0|[1-9][0-9]{0,18})$';

const NANOS_RE = new RegExp(EPOCH_NANOS_PATTERN);

export function isEpochNanos(value: unknown): value is EpochNanos {
  return typeof value === 'string' && NANOS_RE.test(value);
}

export function nanosFromMillis(ms: number): EpochNanos {
  if (!Number.isFinite(ms)) throw new RangeError(`not a finite time: ${ms}`);
  const whole = Math.floor(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1_000_000))).toString();
}

/** Microseconds since the epoch (exact as a double until the year 2255). */
export function nanosFromMicros(us: number): EpochNanos {
  if (!Number.isSafeInteger(us)) throw new RangeError(`not a whole number of microseconds: ${us}`);
  return (BigInt(us) * 1_000n).toString();
}

export function nanosFromDate(date: Date): EpochNanos {
  return nanosFromMillis(date.getTime());
}

/** Parses an RFC 3339 timestamp keeping all nine fractional digits, e.g. "2026-11-24T14:30:00.123456789Z". */
export function nanosFromIso(iso: string): EpochNanos {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(iso);
  if (!match) throw new RangeError(`not an RFC 3339 timestamp: ${iso}`);
  const millis = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(millis)) throw new RangeError(`not an RFC 3339 timestamp: ${iso}`);
  const fraction = BigInt((match[2] ?? '').padEnd(9, '0'));
  return (BigInt(millis) * 1_000_000n + fraction).toString();
}

/** Milliseconds since the epoch (truncated), fast enough for hot paths (no BigInt). */
export function millisOfNanos(ns: EpochNanos): number {
  return ns.length > 6 ? Number(ns.slice(0, -6)) : 0;
}

export function bigintOfNanos(ns: EpochNanos): bigint {
  return BigInt(ns);
}

/** RFC 3339 with all nine fractional digits, e.g. "2026-11-24T14:30:00.123456789Z". */
export function isoOfNanos(ns: EpochNanos): string {
  const value = BigInt(ns);
  const seconds = value / 1_000_000_000n;
  const fraction = (value % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}.${fraction}Z`;
}

/**
 * Orders two canonical epoch-nanosecond strings without parsing them: a longer canonical number is
 * larger, equal lengths compare as text. Returns a negative number, 0 or a positive number.
 */
export function compareNanos(a: EpochNanos, b: EpochNanos): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** a + delta nanoseconds (delta may be negative). */
export function addNanos(ns: EpochNanos, delta: bigint | number): EpochNanos {
  return (BigInt(ns) + BigInt(delta)).toString();
}
