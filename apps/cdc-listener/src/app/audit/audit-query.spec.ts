import type { CapturedChange, TransactionHeader } from '../capture/transaction-assembler';
import { auditDocument, auditRowsOf } from './audit-trail-writer';
import { auditSql, encodeCursor, parseAuditQuery } from './audit-query';

const tables = ['orders', 'positions'];

describe('GET /audit parameters', () => {
  it('accepts table, key, time range, limit and cursor, and pages by commit position', () => {
    const query = parseAuditQuery(
      {
        table: 'orders',
        key: '{"id":"42"}',
        from: '2025-03-21T14:30:00.123456Z',
        to: '2025-03-22',
        limit: '10',
        cursor: encodeCursor('37312944', 3),
      },
      tables,
    );
    expect(query).toEqual({
      table: 'orders',
      key: { id: '42' },
      from: '2025-03-21T14:30:00.123456Z',
      to: '2025-03-22',
      limit: 10,
      after: { commitLsn: '37312944', order: 3 },
    });
    const sql = auditSql('"trading"."audit_log"', query, { id: '42' });
    expect(sql.text).toMatch(/\(commit_lsn, event_order\) > \(\$5::int8, \$6::int4\)/);
    expect(sql.text).toMatch(/ORDER BY commit_lsn, event_order LIMIT \$7/);
    expect(sql.values).toEqual(['orders', '{"id":"42"}', '2025-03-21T14:30:00.123456Z', '2025-03-22', '37312944', 3, 11]);
  });

  it('takes a bare key value for a table with a one-column key, and 100 rows by default', () => {
    expect(parseAuditQuery({ table: 'orders', key: '42' }, tables)).toEqual({
      table: 'orders',
      key: { bare: '42' },
      limit: 100,
      from: undefined,
      to: undefined,
      after: undefined,
    });
  });

  it.each([
    [{ tabel: 'orders' }, /unknown parameter tabel/],
    [{ table: 'audit_log' }, /table must be one of orders, positions/],
    [{ key: '42' }, /key needs table/],
    [{ table: 'orders', key: '{"id":' }, /key is not valid JSON/],
    [{ table: 'orders', key: '{}' }, /JSON object of the primary key/],
    [{ from: 'yesterday' }, /from must be an ISO-8601 time/],
    [{ from: '2025-03-22T00:00:00Z', to: '2025-03-21T00:00:00Z' }, /is after to/],
    [{ limit: '0' }, /limit must be an integer from 1 to 1000/],
    [{ limit: '5000' }, /limit must be an integer from 1 to 1000/],
    [{ limit: ['1', '2'] }, /limit must be given once/],
    [{ cursor: 'bm90IGEgY3Vyc29y' }, /cursor is not one this API returned/],
  ])('refuses %j with a message naming the parameter', (raw, message) => {
    expect(() => parseAuditQuery(raw, tables)).toThrow(message);
  });
});

describe('audit rows from captured changes', () => {
  const header: TransactionHeader = {
    id: '731:5000',
    xid: 731,
    commitLsn: 5000n,
    commitTimeMicros: 1_742_567_400_123_456,
    context: { correlationId: 'req-9' },
    begin: { status: 'BEGIN', id: '731:5000', ts_ms: 1_742_567_400_123, event_count: null, data_collections: null },
  };
  const change = (table: string, op: 'c' | 't', order: number): CapturedChange => ({
    schema: 'trading',
    table,
    primaryKey: ['id'],
    idempotencyKey: `5000:${order}`,
    value: {
      before: null,
      after: op === 't' ? null : { id: '42', changed_by: 'alice' },
      op,
      ts_ms: 1,
      transaction: { id: '731:5000', total_order: order, data_collection_order: order },
      source: {
        version: 'test', connector: 'postgresql', name: 'cdc', ts_ms: 1, snapshot: 'false', db: 'tributary',
        sequence: null, schema: 'trading', table, txId: 731, lsn: 4900,
      },
    },
  });

  it('records each change with its key, dedup key, context and row attribution, but never the audit table\'s own changes', () => {
    const rows = auditRowsOf(header, [change('orders', 'c', 1), change('audit_log', 'c', 2), change('orders', 't', 3)], ['audit_log']);
    expect(rows).toEqual([
      expect.objectContaining({ table: 'orders', key: '{"id":"42"}', op: 'c', commitLsn: '5000', order: 1, correlationId: 'req-9', changedBy: 'alice' }),
      expect.objectContaining({ table: 'orders', key: '{}', op: 't', order: 3, before: null, after: null }),
    ]);
  });

  it('reuses the JSON written for Kafka for the row images and key of a streamed change', () => {
    const after = '{"id":"42","note":"x \\"y\\"","correlation_id":"req-row"}';
    const streamed: CapturedChange = {
      ...change('orders', 'c', 4),
      encoded: {
        json: '{}',
        op: 'u',
        order: 4,
        before: '{"id":"42"}',
        after,
        key: '{"id":"42"}',
        rowCorrelationId: 'req-row',
        auditCorrelationId: 'req-row',
        auditChangedBy: 'dave',
      },
    };
    const [row] = auditRowsOf({ ...header, context: {} }, [streamed], []);
    expect(row).toEqual({
      table: 'orders', key: '{"id":"42"}', op: 'u', before: '{"id":"42"}', after, txId: 731, commitLsn: '5000', order: 4,
      commitMicros: 1_742_567_400_123_456, correlationId: 'req-row', changedBy: 'dave',
    });
    expect(row?.after).toBe(after);
  });

  it('sends a batch as one JSON document whose records carry every column of the rows', () => {
    const rows = auditRowsOf(header, [change('orders', 'c', 1), change('orders', 't', 2)], []);
    expect(JSON.parse(auditDocument(rows))).toEqual([
      { t: 'orders', k: { id: '42' }, o: 'c', b: null, a: { id: '42', changed_by: 'alice' }, x: 731, l: '5000', e: 1, m: 1_742_567_400_123_456, c: 'req-9', w: 'alice' },
      { t: 'orders', k: {}, o: 't', b: null, a: null, x: 731, l: '5000', e: 2, m: 1_742_567_400_123_456, c: 'req-9', w: null },
    ]);
  });
});

describe('GET /audit bounds', () => {
  const bounds = { maxRangeMs: 744 * 3_600_000, now: () => Date.parse('2025-03-31T00:00:00Z') };
  const refusal = (raw: Record<string, unknown>): string => {
    try {
      parseAuditQuery(raw, tables, bounds);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('a time range up to the maximum is accepted, with or without to (to defaults to now)', () => {
    expect(parseAuditQuery({ from: '2025-03-01T00:00:00Z', to: '2025-03-31T00:00:00Z' }, tables, bounds)).toMatchObject({ from: '2025-03-01T00:00:00Z' });
    expect(parseAuditQuery({ from: '2025-03-30T00:00:00Z' }, tables, bounds)).toMatchObject({ from: '2025-03-30T00:00:00Z', to: undefined });
    expect(parseAuditQuery({ limit: '1000' }, tables, bounds)).toMatchObject({ limit: 1000 });
  });

  it('a range longer than CDC_AUDIT_MAX_RANGE_MS is a 400 naming from and the setting', () => {
    expect(refusal({ from: '2025-01-01T00:00:00Z', to: '2025-03-01T00:00:00Z' })).toBe(
      'from: the range from 2025-01-01T00:00:00Z to 2025-03-01T00:00:00Z is longer than the maximum 744h (CDC_AUDIT_MAX_RANGE_MS); narrow it or page with cursor',
    );
    expect(refusal({ from: '2024-12-01T00:00:00Z' })).toMatch(/^from: the range from 2024-12-01T00:00:00Z to now is longer than the maximum 744h/);
  });

  it('to without from is refused: a range always has both ends', () => {
    expect(refusal({ to: '2025-03-01T00:00:00Z' })).toBe('to needs from: a time range is at most 744h (CDC_AUDIT_MAX_RANGE_MS)');
  });

  it('page size, key and cursor are bounded, each refusal naming the parameter', () => {
    expect(refusal({ limit: '1001' })).toMatch(/^limit must be an integer from 1 to 1000/);
    expect(refusal({ table: 'orders', key: 'x'.repeat(1025) })).toBe('key must be at most 1024 characters, got 1025');
    expect(refusal({ cursor: 'A'.repeat(200) })).toMatch(/^cursor is not one this API returned/);
  });
});
