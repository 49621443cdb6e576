import { csvEncoder, csvField, type EncodedColumn, jsonArrayEncoder, ndjsonEncoder } from './row-encoders';

const columns: EncodedColumn[] = [
  { name: 'ts', encoding: 'text' },
  { name: 'symbol', encoding: 'text' },
  { name: 'price', encoding: 'number' },
  { name: 'size', encoding: 'integer' },
  { name: 'conditions', encoding: 'json' },
  { name: 'odd', encoding: 'boolean' },
];
const rows: unknown[][] = [
  ['1767229199999000123', 'AAPL', 101.5, 7n, '["@","I"]', true],
  ['1767229199999000124', 'BRK "B", A', null, 2n ** 60n, null, null],
];

function encode(encoder: ReturnType<typeof jsonArrayEncoder>): string {
  return encoder.head() + rows.map((r) => encoder.row(r)).join('') + encoder.tail();
}

describe('row encodings', () => {
  it('a JSON array keeps INT64 event times exact as strings and embeds JSON columns as JSON', () => {
    const parsed = JSON.parse(encode(jsonArrayEncoder(columns))) as Record<string, unknown>[];
    expect(parsed).toEqual([
      { ts: '1767229199999000123', symbol: 'AAPL', price: 101.5, size: 7, conditions: ['@', 'I'], odd: true },
      { ts: '1767229199999000124', symbol: 'BRK "B", A', price: null, size: String(2n ** 60n), conditions: null, odd: null },
    ]);
  });

  it('an empty result is an empty JSON array', () => {
    const encoder = jsonArrayEncoder(columns);
    expect(JSON.parse(encoder.head() + encoder.tail())).toEqual([]);
  });

  it('NDJSON is one object per line', () => {
    const lines = encode(ndjsonEncoder(columns)).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ ts: '1767229199999000123', size: 7 });
  });

  it('CSV has a header and quotes fields with commas, quotes or line breaks; null is empty', () => {
    expect(encode(csvEncoder(columns))).toBe(
      'ts,symbol,price,size,conditions,odd\n' +
        '1767229199999000123,AAPL,101.5,7,"[""@"",""I""]",true\n' +
        `1767229199999000124,"BRK ""B"", A",,${2n ** 60n},,\n`,
    );
    expect(csvField('a\nb')).toBe('"a\nb"');
  });
});
