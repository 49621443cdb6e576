/**
 * Text form of a column (as pgoutput sends it, with DateStyle=ISO and TimeZone=UTC on the
 * replication session) -> its JSON value in a change event, by type OID:
 *
 * - int2, int4, oid, float4, float8 -> numbers (NaN and ±Infinity stay strings);
 * - int8 and numeric -> decimal strings, exact whatever the precision;
 * - timestamptz -> ISO-8601 UTC with the microseconds, e.g. "2025-03-21T14:30:00.123456Z";
 *   timestamp (without time zone) -> ISO-8601 without zone;
 * - json, jsonb -> the parsed object; bool -> boolean;
 * - arrays of these -> JSON arrays (nested for multi-dimensional arrays), NULL elements null;
 * - anything else -> its text form.
 */

/** Written for a TOASTed column the update did not change: PostgreSQL does not send its value. */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';

const BOOL = 16;
const INT8 = 20;
const INT2 = 21;
const INT4 = 23;
const OID = 26;
const JSON_OID = 114;
const FLOAT4 = 700;
const FLOAT8 = 701;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const NUMERIC = 1700;
const JSONB = 3802;

/** Array type OID -> element type OID, for the element types converted above. */
const ARRAY_ELEMENTS = new Map<number, number>([
  [1000, BOOL],
  [1005, INT2],
  [1007, INT4],
  [1016, INT8],
  [1021, FLOAT4],
  [1022, FLOAT8],
  [1231, NUMERIC],
  [1115, TIMESTAMP],
  [1185, TIMESTAMPTZ],
  [199, JSON_OID],
  [3807, JSONB],
  [1009, 25],
  [1015, 1043],
  [1014, 1042],
  [2951, 2950],
  [1182, 1082],
]);

function number(text: string): number | string {
  const value = Number(text);
  return Number.isFinite(value) ? value : text;
}

function timestamp(text: string, withZone: boolean): string {
  // ISO DateStyle: "2025-03-21 14:30:00.123456+00"; infinity and BC dates are kept as written.
  const match = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(?::?(\d\d))?(?::?(\d\d))?)?$/.exec(text);
  if (!match) return text;
  const [, date, time, zoneHours, zoneMinutes] = match;
  if (!withZone || zoneHours === undefined) return `${date}T${time}`;
  if (zoneHours === '+00' && (zoneMinutes === undefined || zoneMinutes === '00')) return `${date}T${time}Z`;
  return `${date}T${time}${zoneHours}:${zoneMinutes ?? '00'}`;
}

export function columnValue(typeOid: number, text: string): unknown {
  switch (typeOid) {
    case BOOL:
      return text === 't';
    case INT2:
    case INT4:
    case OID:
    case FLOAT4:
    case FLOAT8:
      return number(text);
    case INT8:
    case NUMERIC:
      return text;
    case JSON_OID:
    case JSONB:
      return JSON.parse(text) as unknown;
    case TIMESTAMPTZ:
      return timestamp(text, true);
    case TIMESTAMP:
      return timestamp(text, false);
    default: {
      const element = ARRAY_ELEMENTS.get(typeOid);
      return element === undefined ? text : parseArrayLiteral(text, (item) => columnValue(element, item));
    }
  }
}

/**
 * The same value as {@link columnValue}, written straight as JSON text: `JSON.parse` of the result
 * equals `columnValue`, without building the value first. Integers and decimals are copied as
 * PostgreSQL wrote them; json and jsonb are spliced in as they are (valid JSON, with every digit of
 * their numbers kept).
 */
export function jsonFragment(typeOid: number, text: string): string {
  switch (typeOid) {
    case BOOL:
      return text === 't' ? 'true' : 'false';
    case INT2:
    case INT4:
    case OID:
      return text;
    case FLOAT4:
    case FLOAT8: {
      const value = Number(text);
      return Number.isFinite(value) ? String(value) : JSON.stringify(text);
    }
    case INT8:
    case NUMERIC:
      // Digits, sign, point, NaN or Infinity: nothing to escape.
      return `"${text}"`;
    case JSON_OID:
    case JSONB:
      return text;
    case TIMESTAMPTZ:
      return JSON.stringify(timestamp(text, true));
    case TIMESTAMP:
      return JSON.stringify(timestamp(text, false));
    default:
      return JSON.stringify(ARRAY_ELEMENTS.has(typeOid) ? columnValue(typeOid, text) : text);
  }
}

/** json and jsonb: their fragment is PostgreSQL's text, not `JSON.stringify` of the value. */
export function isJsonType(typeOid: number): boolean {
  return typeOid === JSON_OID || typeOid === JSONB;
}

/** Parses PostgreSQL's array text form (`{1,2,NULL,"a,b",{3,4}}`), converting each element. */
export function parseArrayLiteral(text: string, element: (text: string) => unknown): unknown[] {
  let position = 0;
  // Optional dimension decoration: [1:3]={...}
  if (text.startsWith('[')) position = text.indexOf('=') + 1;

  const parseArray = (): unknown[] => {
    if (text[position] !== '{') throw new Error(`not an array literal: ${text}`);
    position++;
    const items: unknown[] = [];
    if (text[position] === '}') {
      position++;
      return items;
    }
    for (;;) {
      if (text[position] === '{') items.push(parseArray());
      else if (text[position] === '"') {
        position++;
        let value = '';
        while (text[position] !== '"') {
          if (text[position] === '\\') position++;
          value += text[position++];
        }
        position++;
        items.push(element(value));
      } else {
        let end = position;
        while (text[end] !== ',' && text[end] !== '}') end++;
        const raw = text.slice(position, end);
        position = end;
        items.push(raw === 'NULL' ? null : element(raw));
      }
      const separator = text[position++];
      if (separator === '}') return items;
      if (separator !== ',') throw new Error(`not an array literal: ${text}`);
    }
  };
  return parseArray();
}
