/**
 * Parameters of `GET /audit`: validated, with a message naming the bad parameter, and turned into
 * one keyset-paged query ordered by commit position (commit LSN, order in the transaction), the
 * dedup key the unique index `audit_log_dedup_key` already covers.
 */

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;
/** Longest `key` accepted (characters): a primary key as JSON, far above any real one. */
export const AUDIT_MAX_KEY_LENGTH = 1024;

/** Bounds of a query besides the fixed ones: the longest commit-time range, and the clock `to` defaults to. */
export interface AuditQueryBounds {
  readonly maxRangeMs: number;
  readonly now?: () => number;
}

const PARAMETERS = ['table', 'key', 'from', 'to', 'limit', 'cursor'] as const;
const ISO_TIMESTAMP = /^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,6})?)?(?:Z|[+-]\d\d(?::?\d\d)?)?)?$/;

export class AuditQueryError extends Error {}

export interface AuditQuery {
  readonly table?: string;
  /** The row's primary key as the Kafka key writes it (`{"id":"42"}`), or a bare value of a one-column key. */
  readonly key?: Record<string, unknown> | { readonly bare: string };
  readonly from?: string;
  readonly to?: string;
  readonly limit: number;
  readonly after?: { readonly commitLsn: string; readonly order: number };
}

export function encodeCursor(commitLsn: string, order: number): string {
  return Buffer.from(`${commitLsn}:${order}`).toString('base64url');
}

function decodeCursor(cursor: string): { commitLsn: string; order: number } {
  const match = /^(\d{1,20}):(\d{1,10})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new AuditQueryError(`cursor is not one this API returned: ${JSON.stringify(cursor)}`);
  return { commitLsn: match[1] as string, order: Number(match[2]) };
}

/** A span in ms the way the settings write it (744h, 90m, 45s). */
function span(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function single(raw: Record<string, unknown>, name: string): string | undefined {
  const value = raw[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new AuditQueryError(`${name} must be given once, as a single value`);
  return value;
}

function timestamp(raw: Record<string, unknown>, name: string): string | undefined {
  const value = single(raw, name);
  if (value === undefined) return undefined;
  if (!ISO_TIMESTAMP.test(value) || Number.isNaN(Date.parse(value))) {
    throw new AuditQueryError(`${name} must be an ISO-8601 time such as 2025-03-21T14:30:00.123456Z, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Validates the query string of `GET /audit` against the audited tables. Every parameter is bounded:
 * `limit` by {@link AUDIT_MAX_LIMIT}, `key` and `cursor` in length, and a commit-time range by
 * `bounds.maxRangeMs` (`to` defaults to now; `to` alone needs `from`, so a range always has both ends).
 */
export function parseAuditQuery(raw: Record<string, unknown>, tables: readonly string[], bounds?: AuditQueryBounds): AuditQuery {
  const unknown = Object.keys(raw).filter((name) => !(PARAMETERS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new AuditQueryError(`unknown parameter ${unknown.join(', ')}; use ${PARAMETERS.join(', ')}`);
  }
  const table = single(raw, 'table');
  if (table !== undefined && !tables.includes(table)) {
    throw new AuditQueryError(`table must be one of ${tables.join(', ')}, got ${JSON.stringify(table)}`);
  }
  const keyText = single(raw, 'key');
  let key: AuditQuery['key'];
  if (keyText !== undefined && keyText.length > AUDIT_MAX_KEY_LENGTH) {
    throw new AuditQueryError(`key must be at most ${AUDIT_MAX_KEY_LENGTH} characters, got ${keyText.length}`);
  }
  if (keyText !== undefined) {
    if (table === undefined) throw new AuditQueryError('key needs table: a primary key is only meaningful within its table');
    if (keyText.trimStart().startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(keyText);
      } catch {
        throw new AuditQueryError(`key is not valid JSON: ${JSON.stringify(keyText)}`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.keys(parsed).length === 0) {
        throw new AuditQueryError('key must be a JSON object of the primary key columns, e.g. {"id":"42"}');
      }
      key = parsed as Record<string, unknown>;
    } else if (keyText === '') {
      throw new AuditQueryError('key must not be empty');
    } else key = { bare: keyText };
  }
  const from = timestamp(raw, 'from');
  const to = timestamp(raw, 'to');
  if (from !== undefined && to !== undefined && Date.parse(from) > Date.parse(to)) {
    throw new AuditQueryError(`from (${from}) is after to (${to})`);
  }
  if (bounds !== undefined && (from !== undefined || to !== undefined)) {
    const max = bounds.maxRangeMs;
    if (from === undefined) {
      throw new AuditQueryError(`to needs from: a time range is at most ${span(max)} (CDC_AUDIT_MAX_RANGE_MS)`);
    }
    const end = to === undefined ? (bounds.now ?? Date.now)() : Date.parse(to);
    if (end - Date.parse(from) > max) {
      throw new AuditQueryError(
        `from: the range from ${from} to ${to ?? 'now'} is longer than the maximum ${span(max)} (CDC_AUDIT_MAX_RANGE_MS); narrow it or page with cursor`,
      );
    }
  }
  const limitText = single(raw, 'limit');
  let limit = AUDIT_DEFAULT_LIMIT;
  if (limitText !== undefined) {
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > AUDIT_MAX_LIMIT) {
      throw new AuditQueryError(`limit must be an integer from 1 to ${AUDIT_MAX_LIMIT}, got ${JSON.stringify(limitText)}`);
    }
    limit = Number(limitText);
  }
  const cursor = single(raw, 'cursor');
  if (cursor !== undefined && cursor.length > 64) throw new AuditQueryError(`cursor is not one this API returned: ${JSON.stringify(cursor.slice(0, 64))}...`);
  return { table, key, from, to, limit, after: cursor === undefined ? undefined : decodeCursor(cursor) };
}

/**
 * The SQL of a validated query: `from` inclusive, `to` exclusive (commit time), one row more than
 * the limit to tell whether a next page exists. `key` must be a column object by now.
 */
export function auditSql(schemaTable: string, query: AuditQuery, key: Record<string, unknown> | undefined): { text: string; values: unknown[] } {
  const where: string[] = [];
  const values: unknown[] = [];
  const bind = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  if (query.table !== undefined) where.push(`table_name = ${bind(query.table)}`);
  if (key !== undefined) where.push(`row_key = ${bind(JSON.stringify(key))}::jsonb`);
  if (query.from !== undefined) where.push(`committed_at >= ${bind(query.from)}::timestamptz`);
  if (query.to !== undefined) where.push(`committed_at < ${bind(query.to)}::timestamptz`);
  if (query.after !== undefined) {
    where.push(`(commit_lsn, event_order) > (${bind(query.after.commitLsn)}::int8, ${bind(query.after.order)}::int4)`);
  }
  const text = `SELECT table_name, row_key, op, before, after, tx_id::text AS tx_id, commit_lsn::text AS commit_lsn, event_order,
      to_char(committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS committed_at, correlation_id, changed_by
    FROM ${schemaTable}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
    ORDER BY commit_lsn, event_order LIMIT ${bind(query.limit + 1)}`;
  return { text, values };
}
