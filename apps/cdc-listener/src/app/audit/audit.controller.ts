import { BadRequestException, Controller, Get, Inject, Query } from '@nestjs/common';
import { AUDIT_TABLE, type CdcListenerConfig } from '../../config';
import { CDC_CONFIG } from '../capture/change-capture.service';
import { TradingPool } from '../trading-schema/trading-pool';
import { AuditQueryError, auditSql, encodeCursor, parseAuditQuery } from './audit-query';
import { RequireScope } from '@tributary/service';

export interface AuditEntry {
  table: string;
  op: string;
  key: Record<string, unknown>;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  txId: number | null;
  /** Commit LSN as a decimal string (exact): with `order`, the change's dedup key. */
  commitLsn: string;
  order: number;
  committedAt: string;
  correlationId: string | null;
  changedBy: string | null;
}

interface AuditRowResult {
  table_name: string;
  row_key: Record<string, unknown>;
  op: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  tx_id: string | null;
  commit_lsn: string;
  event_order: number;
  committed_at: string;
  correlation_id: string | null;
  changed_by: string | null;
}

/**
 * `GET /audit?table=&key=&from=&to=&limit=&cursor=`: the changes recorded in `<schema>.audit_log`
 * in commit order, a page at a time (`nextCursor` until the last page).
 */
@Controller('audit')
export class AuditController {
  private readonly tables: readonly string[];
  private readonly maxRangeMs: number;

  constructor(
    private readonly database: TradingPool,
    @Inject(CDC_CONFIG) config: CdcListenerConfig,
  ) {
    this.tables = config.CDC_TABLES.filter((table) => table !== AUDIT_TABLE);
    this.maxRangeMs = config.CDC_AUDIT_MAX_RANGE_MS;
  }

  @Get()
  @RequireScope('read:cdc.audit')
  async list(@Query() raw: Record<string, unknown>): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    let query;
    try {
      query = parseAuditQuery(raw, this.tables, { maxRangeMs: this.maxRangeMs });
    } catch (error) {
      if (error instanceof AuditQueryError) throw new BadRequestException(error.message);
      throw error;
    }
    let key: Record<string, unknown> | undefined;
    if (query.key && 'bare' in query.key && query.table !== undefined) {
      const columns = await this.database.primaryKeyOf(query.table);
      if (columns.length !== 1) {
        throw new BadRequestException(
          `the primary key of ${query.table} has the columns ${columns.join(', ')}: give key as a JSON object of them`,
        );
      }
      key = { [columns[0] as string]: query.key.bare };
    } else key = query.key as Record<string, unknown> | undefined;
    const { text, values } = auditSql(this.database.relation(AUDIT_TABLE), query, key);
    const rows = await this.database.query<AuditRowResult>(text, values);
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      items: page.map((row) => ({
        table: row.table_name,
        op: row.op,
        key: row.row_key,
        before: row.before,
        after: row.after,
        txId: row.tx_id === null ? null : Number(row.tx_id),
        commitLsn: row.commit_lsn,
        order: row.event_order,
        committedAt: row.committed_at,
        correlationId: row.correlation_id,
        changedBy: row.changed_by,
      })),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.commit_lsn, last.event_order) : null,
    };
  }
}
