import { columnValue, parseArrayLiteral } from './column-values';
import { decodePgOutput, formatLsn, parseLsn, standbyStatusUpdate } from './pgoutput';

describe('column values in change events', () => {
  it('keeps numeric and int8 exact as decimal strings', () => {
    expect(columnValue(1700, '12345678901234567890.123456789012345678')).toBe('12345678901234567890.123456789012345678');
    expect(columnValue(20, '9223372036854775807')).toBe('9223372036854775807');
  });

  it('writes timestamptz as ISO-8601 UTC with the microseconds', () => {
    expect(columnValue(1184, '2025-03-21 14:30:00.123456+00')).toBe('2025-03-21T14:30:00.123456Z');
    expect(columnValue(1114, '2025-03-21 14:30:00.5')).toBe('2025-03-21T14:30:00.5');
    expect(columnValue(1184, 'infinity')).toBe('infinity');
  });

  it('parses json and jsonb to objects and arrays to JSON arrays with nulls', () => {
    expect(columnValue(3802, '{"a": [1, 2]}')).toEqual({ a: [1, 2] });
    expect(columnValue(1009, '{"a b",NULL,c,"q\\"uote"}')).toEqual(['a b', null, 'c', 'q"uote']);
    expect(columnValue(1007, '{{1,2},{3,4}}')).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(parseArrayLiteral('{}', (text) => text)).toEqual([]);
  });
});

describe('pgoutput protocol', () => {
  it('reads LSNs in both notations and confirms exactly the given position', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    const update = standbyStatusUpdate(0x16b374d848n, Date.UTC(2025, 0, 1));
    expect(update.toString('latin1', 0, 1)).toBe('r');
    expect(update.readBigUInt64BE(9)).toBe(0x16b374d848n);
  });

  it('decodes a commit with its commit and end LSN', () => {
    const commit = Buffer.alloc(26);
    commit.write('C', 0);
    commit.writeBigUInt64BE(100n, 2);
    commit.writeBigUInt64BE(148n, 10);
    commit.writeBigInt64BE(5n, 18);
    expect(decodePgOutput(commit)).toEqual({ tag: 'commit', commitLsn: 100n, endLsn: 148n, commitTimeMicros: 5n });
  });
});
