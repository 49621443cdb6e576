import {
  addNanos,
  bigintOfNanos,
  compareNanos,
  isEpochNanos,
  isoOfNanos,
  millisOfNanos,
  nanosFromDate,
  nanosFromIso,
  nanosFromMicros,
  nanosFromMillis,
} from './event-time';

describe('event time (epoch nanoseconds as decimal strings)', () => {
  // 2^53 + 1 ns is not representable as a double: the reason event times are strings.
  const aboveDoublePrecision = '1742567400123456789';

  it('round-trips nanosecond times above 2^53 exactly through ISO-8601', () => {
    expect(Number(aboveDoublePrecision)).not.toBe(1742567400123456789n);
    expect(isoOfNanos(aboveDoublePrecision)).toBe('2025-03-21T14:30:00.123456789Z');
    expect(nanosFromIso('2025-03-21T14:30:00.123456789Z')).toBe(aboveDoublePrecision);
    expect(bigintOfNanos(aboveDoublePrecision)).toBe(1742567400123456789n);
  });

  it('keeps every one of nine fractional digits and honours offsets', () => {
    expect(nanosFromIso('2025-03-21T14:30:00.000000001Z')).toBe('1742567400000000001');
    expect(nanosFromIso('2025-03-21T14:30:00Z')).toBe('1742567400000000000');
    expect(nanosFromIso('2025-03-21T10:30:00.5-04:00')).toBe('1742567400500000000');
    expect(() => nanosFromIso('2025-03-21 14:30:00')).toThrow(RangeError);
  });

  it('converts from milliseconds, microseconds and dates without drift', () => {
    expect(nanosFromMillis(1742567400123)).toBe('1742567400123000000');
    expect(nanosFromMillis(1742567400123.5)).toBe('1742567400123500000');
    expect(nanosFromMicros(1742567400123456)).toBe('1742567400123456000');
    expect(nanosFromDate(new Date('2025-03-21T14:30:00.123Z'))).toBe('1742567400123000000');
    expect(() => nanosFromMillis(Number.NaN)).toThrow(RangeError);
  });

  it('reads milliseconds back for latency metrics', () => {
    expect(millisOfNanos(aboveDoublePrecision)).toBe(1742567400123);
    expect(millisOfNanos('999')).toBe(0);
  });

  it('orders times without parsing them, across digit counts', () => {
    expect(compareNanos('1742567400123456789', '1742567400123456790')).toBeLessThan(0);
    expect(compareNanos('999999999999999999', '1000000000000000000')).toBeLessThan(0);
    expect(compareNanos(aboveDoublePrecision, aboveDoublePrecision)).toBe(0);
    expect(addNanos(aboveDoublePrecision, 1)).toBe('1742567400123456790');
    expect(addNanos(aboveDoublePrecision, -60_000_000_000n)).toBe('1742567340123456789');
  });

  it('recognises only canonical epoch-nanosecond strings', () => {
    expect(isEpochNanos(aboveDoublePrecision)).toBe(true);
    expect(isEpochNanos('0123')).toBe(false);
    expect(isEpochNanos('-1')).toBe(false);
    expect(isEpochNanos(Number('1742567400123456789'))).toBe(false);
  });
});
