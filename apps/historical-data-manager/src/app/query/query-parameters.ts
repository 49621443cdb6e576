/** Parsing and validation of `GET /v1/datasets/:dataset/rows` query parameters. */

export const ROW_FORMATS = ['json', 'ndjson', 'csv', 'parquet'] as const;
export type RowFormat = (typeof ROW_FORMATS)[number];

/** What a request asks for, validated. Times are epoch nanoseconds; `from` inclusive, `to` exclusive. */
export interface RowsQuery {
  fromNs: bigint;
  toNs: bigint;
  /** Empty: every symbol. */
  symbols: string[];
  /** The columns to return, in the order asked (every column when the request names none). */
  columns: string[];
  format: RowFormat;
  /** Rows returned at most; null: every matching row (up to the configured maximum). */
  limit: number | null;
  /** Read the files this snapshot recorded instead of the current ones (and no buffered rows); null: current. */
  snapshot: string | null;
  /**
   * `allowPartial=true`: answer the rows of the files that can be read and list the files that
   * cannot (missing, corrupt or lost) instead of refusing the query with 409.
   */
  allowPartial: boolean;
}

/** What a snapshot may be called: letters, digits, `.`, `_`, `-`, starting with a letter or digit, 1 to 128 characters. */
export const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface QueryLimits {
  /** Longest time range one request may span, in milliseconds. */
  maxRangeMs: number;
  /** Most rows one request may return. */
  maxRows: number;
  /** Most symbols one request may name. */
  maxSymbols: number;
}

/** A request the API refuses: the HTTP status, the parameter at fault and why. */
export class QueryRejection extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 413 | 422,
    readonly parameter: string | null,
    message: string,
  ) {
    super(message);
  }
}

const KNOWN_PARAMETERS = new Set(['from', 'to', 'symbols', 'columns', 'format', 'limit', 'snapshot', 'allowPartial']);
const NS_PER_MS = 1_000_000n;
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * An instant as epoch nanoseconds: ISO-8601 (`2026-01-02`, `2026-01-02T14:30:00.123456789Z`,
 * `...+02:00`; without a zone it is UTC) or epoch nanoseconds as a whole number. Null when the
 * text is neither.
 */
export function parseInstant(text: string): bigint | null {
  const trimmed = text.trim();
  if (/^\d{1,20}$/.test(trimmed)) return BigInt(trimmed);
  const m = ISO_TIME.exec(trimmed);
  if (!m) return null;
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction = '', zone = 'Z'] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const ms = Date.UTC(...fields);
  const check = new Date(ms);
  // Date.UTC rolls 2026-02-30 over to March: refuse dates and times that do not exist
  if (
    Number.isNaN(ms) ||
    check.getUTCFullYear() !== fields[0] ||
    check.getUTCMonth() !== fields[1] ||
    check.getUTCDate() !== fields[2] ||
    check.getUTCHours() !== fields[3] ||
    check.getUTCMinutes() !== fields[4] ||
    check.getUTCSeconds() !== fields[5]
  ) {
    return null;
  }
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== 'Z') {
    const zm = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
    if (!zm) return null;
    const [, sign, zh, zmin = '00'] = zm;
    if (Number(zh) > 23 || Number(zmin) > 59) return null;
    offsetMinutes = (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zmin));
  }
  const ns = BigInt(ms) * NS_PER_MS + BigInt(fraction.padEnd(9, '0') || '0');
  return ns - BigInt(offsetMinutes) * 60_000_000_000n;
}

/** Epoch nanoseconds as ISO-8601 UTC with nanoseconds, e.g. `2026-01-02T14:30:00.123456789Z`. */
export function formatInstant(ns: bigint): string {
  const ms = ns / NS_PER_MS - (ns % NS_PER_MS < 0n ? 1n : 0n);
  const rest = ns - ms * NS_PER_MS;
  const iso = new Date(Number(ms)).toISOString(); // ...SS.mmmZ
  return `${iso.slice(0, 23)}${rest.toString().padStart(6, '0')}Z`;
}

function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new QueryRejection(400, name, `${name} must be given once, as text`);
  }
  return value;
}

function list(text: string | undefined): string[] {
  if (text === undefined) return [];
  return [...new Set(text.split(',').map((item) => item.trim()).filter((item) => item !== ''))];
}

/**
 * Validates the query string of a rows request against the dataset's columns and the limits.
 * Throws a {@link QueryRejection} naming the first parameter at fault.
 */
export function parseRowsQuery(
  query: Record<string, unknown>,
  datasetColumns: readonly string[],
  limits: QueryLimits,
  nowNs: bigint,
): RowsQuery {
  for (const name of Object.keys(query)) {
    if (!KNOWN_PARAMETERS.has(name)) {
      throw new QueryRejection(
        400,
        name,
        `unknown parameter "${name}" (known: ${[...KNOWN_PARAMETERS].join(', ')})`,
      );
    }
  }

  const fromText = single(query, 'from');
  if (fromText === undefined || fromText.trim() === '') {
    throw new QueryRejection(400, 'from', 'from is required: an ISO-8601 time or epoch nanoseconds');
  }
  const fromNs = parseInstant(fromText);
  if (fromNs === null) {
    throw new QueryRejection(400, 'from', `from "${fromText}" is neither an ISO-8601 time nor epoch nanoseconds`);
  }
  const toText = single(query, 'to');
  const toNs = toText === undefined || toText.trim() === '' ? nowNs : parseInstant(toText);
  if (toNs === null) {
    throw new QueryRejection(400, 'to', `to "${toText}" is neither an ISO-8601 time nor epoch nanoseconds`);
  }
  if (toNs <= fromNs) {
    throw new QueryRejection(
      400,
      'to',
      `the range is empty or inverted: to (${formatInstant(toNs)}) must be after from (${formatInstant(fromNs)})`,
    );
  }

  const symbols = list(single(query, 'symbols'));
  if (symbols.length > limits.maxSymbols) {
    throw new QueryRejection(422, 'symbols', `${symbols.length} symbols asked; at most ${limits.maxSymbols} per request`);
  }
  const badSymbol = symbols.find((s) => s.length > 64 || /[\p{Cc}]/u.test(s));
  if (badSymbol !== undefined) {
    throw new QueryRejection(400, 'symbols', `symbol "${badSymbol.slice(0, 80)}" is not a symbol (at most 64 printable characters)`);
  }

  const asked = list(single(query, 'columns'));
  const known = new Set(datasetColumns);
  const unknown = asked.filter((c) => !known.has(c));
  if (unknown.length > 0) {
    throw new QueryRejection(
      400,
      'columns',
      `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')} (known: ${datasetColumns.join(', ')})`,
    );
  }
  const columns = asked.length > 0 ? asked : [...datasetColumns];

  const formatText = single(query, 'format') ?? 'json';
  if (!(ROW_FORMATS as readonly string[]).includes(formatText)) {
    throw new QueryRejection(400, 'format', `unknown format "${formatText}" (known: ${ROW_FORMATS.join(', ')})`);
  }

  const limitText = single(query, 'limit');
  let limit: number | null = null;
  if (limitText !== undefined) {
    if (!/^\d{1,15}$/.test(limitText) || Number(limitText) < 1) {
      throw new QueryRejection(400, 'limit', `limit "${limitText}" must be a whole number of rows, at least 1`);
    }
    limit = Number(limitText);
    if (limit > limits.maxRows) {
      throw new QueryRejection(422, 'limit', `limit ${limit} is above the ${limits.maxRows} rows one request may return`);
    }
  }

  const snapshotText = single(query, 'snapshot');
  if (snapshotText !== undefined && !SNAPSHOT_NAME.test(snapshotText)) {
    throw new QueryRejection(
      400,
      'snapshot',
      `snapshot "${snapshotText.slice(0, 140)}" is not a snapshot name (letters, digits, ".", "_", "-", at most 128)`,
    );
  }

  const partialText = single(query, 'allowPartial');
  if (partialText !== undefined && partialText !== 'true' && partialText !== 'false') {
    throw new QueryRejection(400, 'allowPartial', `allowPartial "${partialText.slice(0, 40)}" must be true or false`);
  }

  // limits last: a request that is wrong is told so before it is told it is too big
  const maxRangeNs = BigInt(limits.maxRangeMs) * NS_PER_MS;
  if (toNs - fromNs > maxRangeNs) {
    throw new QueryRejection(
      422,
      'to',
      `the range from ${formatInstant(fromNs)} to ${formatInstant(toNs)} is longer than the ${limits.maxRangeMs / 3_600_000} h one request may span`,
    );
  }

  return { fromNs, toNs, symbols, columns, format: formatText as RowFormat, limit, snapshot: snapshotText ?? null, allowPartial: partialText === 'true' };
}
