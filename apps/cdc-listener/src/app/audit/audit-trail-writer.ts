import { Client } from 'pg';
import { sessionTimeouts, type SessionTimeoutSettings } from '@tributary/postgres';
import { quoteIdentifier } from '../trading-schema/trading-migrations';
import type { CapturedChange, TransactionHeader } from '../capture/transaction-assembler';

export interface AuditTrailWriterOptions {
  readonly databaseUrl: string;
  readonly schema: string;
  /** Tables whose changes are not written (the audit table itself: its own changes never loop back). */
  readonly excludedTables: readonly string[];
  /** Rows per INSERT statement; default 2000. */
  readonly maxRowsPerInsert?: number;
  /** INSERTs running at once, each on its own connection; default 2. */
  readonly parallelInserts?: number;
  /**
   * How long the first waiting row waits for company before its INSERT starts; default 5 ms. The
   * rows are written while Kafka writes the same changes (which lingers as long), so this makes
   * fewer, larger INSERTs without delaying the confirmation.
   */
  readonly lingerMs?: number;
  /** statement_timeout and idle_in_transaction_session_timeout of the INSERT connections (default: none). */
  readonly timeouts?: SessionTimeoutSettings;
}

/** One audit row as sent to PostgreSQL: the columns of `<schema>.audit_log` in insert order. */
export interface AuditRow {
  readonly table: string;
  readonly key: string;
  readonly op: string;
  readonly before: string | null;
  readonly after: string | null;
  readonly txId: number | null;
  readonly commitLsn: string;
  readonly order: number;
  readonly commitMicros: number;
  readonly correlationId: string | null;
  readonly changedBy: string | null;
}

interface Waiting {
  readonly rows: AuditRow[];
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The audit rows of changes of one transaction (not those of excluded tables). A streamed change's
 * row images and key are the JSON already written for Kafka, not serialised again.
 */
export function auditRowsOf(
  transaction: TransactionHeader,
  changes: readonly CapturedChange[],
  excludedTables: readonly string[],
): AuditRow[] {
  const rows: AuditRow[] = [];
  const commitLsn = transaction.commitLsn.toString();
  const { correlationId, changedBy } = transaction.context;
  for (const change of changes) {
    if (excludedTables.includes(change.table)) continue;
    const encoded = change.encoded;
    if (encoded) {
      rows.push({
        table: change.table,
        key: encoded.op === 't' ? '{}' : encoded.key,
        op: encoded.op,
        before: encoded.before,
        after: encoded.after,
        txId: transaction.xid,
        commitLsn,
        order: encoded.order,
        commitMicros: transaction.commitTimeMicros,
        correlationId: correlationId ?? encoded.auditCorrelationId,
        changedBy: changedBy ?? encoded.auditChangedBy,
      });
      continue;
    }
    const { value } = change;
    const row = value.after ?? value.before;
    const key: Record<string, unknown> = {};
    if (row) for (const column of change.primaryKey) key[column] = row[column] ?? null;
    rows.push({
      table: change.table,
      key: JSON.stringify(key),
      op: value.op,
      before: value.before === null ? null : JSON.stringify(value.before),
      after: value.after === null ? null : JSON.stringify(value.after),
      txId: transaction.xid,
      commitLsn,
      order: value.transaction?.total_order ?? 0,
      commitMicros: transaction.commitTimeMicros,
      correlationId: correlationId ?? stringOr(row?.['correlation_id']),
      changedBy: changedBy ?? stringOr(row?.['changed_by']),
    });
  }
  return rows;
}

/**
 * The rows of one INSERT as a single JSON array (read by `jsonb_to_recordset`): the row images and
 * keys are spliced in as they are, so nothing is escaped again for an array literal.
 */
export function auditDocument(rows: readonly AuditRow[]): string {
  let document = '[';
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index] as AuditRow;
    if (index > 0) document += ',';
    document +=
      `{"t":${JSON.stringify(row.table)},"k":${row.key},"o":${JSON.stringify(row.op)},"b":${row.before ?? 'null'},` +
      `"a":${row.after ?? 'null'},"x":${row.txId ?? 'null'},"l":"${row.commitLsn}","e":${row.order},"m":${row.commitMicros},` +
      `"c":${row.correlationId === null ? 'null' : JSON.stringify(row.correlationId)},` +
      `"w":${row.changedBy === null ? 'null' : JSON.stringify(row.changedBy)}}`;
  }
  return `${document}]`;
}

/**
 * Fills `<schema>.audit_log` from the change stream. The listener calls `record` while Kafka is
 * writing a transaction's changes, and confirms their position only once both are done, so the
 * audit trail is as complete as the topics. Rows of concurrent calls are gathered into multi-row
 * INSERTs (one JSON document per statement read by `jsonb_to_recordset`; two at a time on their
 * own connections, as order does not matter here), `ON CONFLICT (commit_lsn, event_order) DO
 * NOTHING`: a transaction sent again after a crash is not written twice.
 */
export class AuditTrailWriter {
  /** Idle connections; at most `parallelInserts` are open. */
  private readonly idle: Client[] = [];
  private open = 0;
  private readonly waiting: Waiting[] = [];
  private readonly sql: string;
  private closed = false;
  private waitingRows = 0;
  private lingering?: NodeJS.Timeout;

  constructor(private readonly options: AuditTrailWriterOptions) {
    this.sql = `INSERT INTO ${quoteIdentifier(options.schema)}.audit_log
        (table_name, row_key, op, before, after, tx_id, commit_lsn, event_order, committed_at, correlation_id, changed_by)
      SELECT t, k, o, b, a, x, l, e, timestamptz 'epoch' + m * interval '1 microsecond', c, w
        FROM jsonb_to_recordset($1::jsonb)
          AS r(t text, k jsonb, o text, b jsonb, a jsonb, x int8, l int8, e int4, m int8, c text, w text)
      ON CONFLICT (commit_lsn, event_order) DO NOTHING`;
  }

  /** Writes the audit rows of these changes; resolves once they are in the table. */
  record(transaction: TransactionHeader, changes: readonly CapturedChange[]): Promise<void> {
    const rows = auditRowsOf(transaction, changes, this.options.excludedTables);
    if (rows.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ rows, resolve, reject });
      this.waitingRows += rows.length;
      const linger = this.options.lingerMs ?? 5;
      if (linger <= 0 || this.waitingRows >= (this.options.maxRowsPerInsert ?? 2000)) this.drain();
      else this.lingering ??= setTimeout(() => this.drain(), linger);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.lingering);
    this.lingering = undefined;
    const idle = this.idle.splice(0);
    await Promise.all(idle.map((client) => client.end().catch(() => undefined)));
  }

  /** Starts INSERTs of the waiting rows on free connections (each INSERT takes whole calls up to the row limit). */
  private drain(): void {
    clearTimeout(this.lingering);
    this.lingering = undefined;
    const limit = this.options.maxRowsPerInsert ?? 2000;
    const parallel = this.options.parallelInserts ?? 2;
    while (this.waiting.length > 0 && (this.idle.length > 0 || this.open < parallel)) {
      const batch: Waiting[] = [];
      let count = 0;
      while (this.waiting.length > 0 && (count === 0 || count + (this.waiting[0]?.rows.length ?? 0) <= limit)) {
        const next = this.waiting.shift() as Waiting;
        batch.push(next);
        count += next.rows.length;
        this.waitingRows -= next.rows.length;
      }
      void this.write(batch, limit);
    }
  }

  private async write(batch: Waiting[], limit: number): Promise<void> {
    let client: Client | undefined;
    try {
      client = await this.connection();
      const rows = batch.length === 1 ? (batch[0] as Waiting).rows : batch.flatMap((waiting) => waiting.rows);
      for (let start = 0; start < rows.length; start += limit) await this.insert(client, rows.slice(start, start + limit));
      if (this.closed) await client.end().catch(() => undefined);
      else this.idle.push(client);
      client = undefined;
      for (const waiting of batch) waiting.resolve();
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    } finally {
      if (client) {
        this.open--;
        await client.end().catch(() => undefined);
      }
      this.drain();
    }
  }

  private async insert(client: Client, rows: readonly AuditRow[]): Promise<void> {
    await client.query(this.sql, [auditDocument(rows)]);
  }

  /** An idle connection, or a new one while fewer than `parallelInserts` are open. */
  private async connection(): Promise<Client> {
    const idle = this.idle.pop();
    if (idle) return idle;
    this.open++;
    const client = new Client({
      connectionString: this.options.databaseUrl,
      application_name: 'cdc-listener:audit',
      ...(this.options.timeouts ? sessionTimeouts(this.options.timeouts) : {}),
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      this.open--;
      throw error;
    }
    return client;
  }
}

function stringOr(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
