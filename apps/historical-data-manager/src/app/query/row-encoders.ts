/** Text encodings of result rows: a JSON array, NDJSON and CSV, written one row at a time. */

/**
 * How a column's values are written. `text`: a string (INT64 event times and offsets come as
 * decimal text, so they stay exact); `json`: JSON text stored in the column (arrays and objects of
 * the events), embedded as JSON; `integer`: an INT64 of the event, a JSON number (or a string
 * when beyond 2^53, which the contracts never produce); `number`, `boolean` as they are; `auto`
 * (a column whose type only older files know): by the value's type, INT64 as text.
 */
export type ColumnEncoding = 'text' | 'json' | 'integer' | 'number' | 'boolean' | 'auto';

export interface EncodedColumn {
  name: string;
  encoding: ColumnEncoding;
}

export interface RowEncoder {
  readonly contentType: string;
  /** Written before the first row. */
  head(): string;
  row(values: readonly unknown[]): string;
  /** Written after the last row. */
  tail(): string;
}

function jsonValue(value: unknown, encoding: ColumnEncoding): string {
  if (value === null || value === undefined) return 'null';
  switch (encoding) {
    case 'json':
      return typeof value === 'string' ? value : JSON.stringify(value);
    case 'integer':
      if (typeof value === 'bigint') {
        return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
          ? value.toString()
          : JSON.stringify(value.toString());
      }
      return JSON.stringify(value);
    case 'number':
      return typeof value === 'number' && !Number.isFinite(value) ? JSON.stringify(String(value)) : JSON.stringify(value);
    case 'text':
      return JSON.stringify(typeof value === 'bigint' ? value.toString() : String(value));
    default:
      return typeof value === 'bigint' ? JSON.stringify(value.toString()) : JSON.stringify(value);
  }
}

function jsonObject(columns: readonly EncodedColumn[], keys: readonly string[], values: readonly unknown[]): string {
  let out = '{';
  for (let i = 0; i < columns.length; i++) {
    if (i > 0) out += ',';
    out += keys[i] + ':' + jsonValue(values[i], (columns[i] as EncodedColumn).encoding);
  }
  return out + '}';
}

/** `[{...},{...}]`: one JSON document, written as rows come. */
export function jsonArrayEncoder(columns: readonly EncodedColumn[]): RowEncoder {
  const keys = columns.map((c) => JSON.stringify(c.name));
  let first = true;
  return {
    contentType: 'application/json; charset=utf-8',
    head: () => '[',
    row: (values) => {
      const prefix = first ? '' : ',';
      first = false;
      return prefix + jsonObject(columns, keys, values);
    },
    tail: () => ']\n',
  };
}

/** One JSON object per line. */
export function ndjsonEncoder(columns: readonly EncodedColumn[]): RowEncoder {
  const keys = columns.map((c) => JSON.stringify(c.name));
  return {
    contentType: 'application/x-ndjson; charset=utf-8',
    head: () => '',
    row: (values) => jsonObject(columns, keys, values) + '\n',
    tail: () => '',
  };
}

/** A CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF; null is an empty field. */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : typeof value === 'bigint' ? value.toString() : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A header line, then one line per row. */
export function csvEncoder(columns: readonly EncodedColumn[]): RowEncoder {
  return {
    contentType: 'text/csv; charset=utf-8',
    head: () => columns.map((c) => csvField(c.name)).join(',') + '\n',
    row: (values) => values.map(csvField).join(',') + '\n',
    tail: () => '',
  };
}
