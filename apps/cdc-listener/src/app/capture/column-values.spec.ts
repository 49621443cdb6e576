import { columnValue, jsonFragment, parseArrayLiteral } from './column-values';
import { decodePgOutput, formatLsn, parseLsn, standbyStatusUpdate, UNCHANGED_TOAST } from './pgoutput';

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

describe('column values written straight as JSON', () => {
  const samples: [number, string][] = [
    [16, 't'],
    [16, 'f'],
    [21, '-32768'],
    [23, '2147483647'],
    [26, '4294967295'],
    [700, '1.5'],
    [701, '0.10000000000000001'],
    [701, 'NaN'],
    [701, '-Infinity'],
    [20, '-9223372036854775808'],
    [1700, '12345678901234567890.123456789012345678'],
    [1700, 'NaN'],
    [1184, '2025-03-21 14:30:00.123456+00'],
    [1184, '2025-03-21 14:30:00+05:30'],
    [1184, 'infinity'],
    [1114, '2025-03-21 14:30:00.5'],
    [3802, '{"a": [1, 2], "b": {"c": null}}'],
    [114, '[1, "two", {"three": 3}]'],
    [25, 'quote " backslash \\ newline \n tab \t unicode é 漢'],
    [1043, ''],
    [1009, '{"a b",NULL,c,"q\\"uote"}'],
    [1007, '{{1,2},{3,4}}'],
    [1082, '2025-03-21'],
  ];

  it.each(samples)('type %i: %j reads back as the same value as the event object holds', (typeOid, text) => {
    expect(JSON.parse(jsonFragment(typeOid, text))).toEqual(columnValue(typeOid, text));
  });

  it('keeps every digit of a json number, which a parse and re-serialisation would round', () => {
    expect(jsonFragment(3802, '{"qty": 12345678901234567890}')).toBe('{"qty": 12345678901234567890}');
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

  it('decodes the columns of a row as text, null and unchanged TOASTed values', () => {
    const text = Buffer.from('é漢 "q"', 'utf8');
    const insert = Buffer.concat([
      Buffer.from('I'),
      Buffer.from([0, 0, 0x10, 0x01]),
      Buffer.from('N'),
      Buffer.from([0, 3]),
      Buffer.from('t'),
      Buffer.from([0, 0, 0, text.length]),
      text,
      Buffer.from('n'),
      Buffer.from('u'),
    ]);
    expect(decodePgOutput(insert)).toEqual({ tag: 'insert', relationOid: 0x1001, newTuple: ['é漢 "q"', null, UNCHANGED_TOAST] });
  });

  it('refuses a column value that runs past the end of the message', () => {
    const truncated = Buffer.concat([Buffer.from('I'), Buffer.from([0, 0, 0, 1]), Buffer.from('N'), Buffer.from([0, 1]), Buffer.from('t'), Buffer.from([0, 0, 0, 9]), Buffer.from('ab')]);
    expect(() => decodePgOutput(truncated)).toThrow('pgoutput: truncated column value');
  });
});
