import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  HttpException,
  HttpStatus,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { CdcListenerConfig } from '../../config';
import { CDC_CONFIG } from '../capture/change-capture.service';
import { SIGNAL_TABLE } from '../capture/change-stream';
import { EXECUTE_SNAPSHOT } from '../capture/resnapshot';
import { TradingPool } from '../trading-schema/trading-pool';
import { RequireScope } from '@tributary/service';

export type ResnapshotStatus = 'pending' | 'running' | 'completed' | 'failed';

export interface ResnapshotProgress {
  table: string;
  status: ResnapshotStatus;
  rowsRead: number;
  /** WAL position of the snapshot (decimal string): the reads sit there in the stream. */
  snapshotLsn: string | null;
  startedAt: string | null;
  completedAt: string | null;
  error: string | null;
}

export interface SnapshotRequestView {
  id: string;
  requestedAt: string;
  status: ResnapshotStatus;
  tables: ResnapshotProgress[];
}

interface SignalRow {
  id: string;
  data: { 'data-collections'?: unknown } | null;
  requested_at: string;
  progress: {
    table_name: string;
    status: Exclude<ResnapshotStatus, 'pending'>;
    rows_read: string;
    snapshot_lsn: string | null;
    started_at: string | null;
    completed_at: string | null;
    error: string | null;
  }[];
}

/** What this controller uses of the HTTP response: the status of an answer other than the route's default. */
interface StatusSetter {
  status(code: number): unknown;
}

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

/** A re-snapshot request not finished yet for one of its tables: queued (no progress row) or running. */
interface OutstandingRow {
  id: string;
  table_name: string;
  status: 'pending' | 'running';
}

/**
 * On-demand re-snapshots of one table, for replay. A request is a row inserted into the signal table
 * `<schema>.cdc_signals` (as a writer may do itself in SQL); the listener reads it from the change
 * stream, so the reads (`op: r`, `source.snapshot: incremental`) are ordered with the other changes.
 */
@Controller('snapshots')
export class SnapshotsController {
  constructor(
    private readonly database: TradingPool,
    @Inject(CDC_CONFIG) private readonly config: CdcListenerConfig,
  ) {}

  @Post()
  @RequireScope('admin')
  @HttpCode(202)
  request(@Body() body: unknown, @Res({ passthrough: true }) response: StatusSetter): Promise<SnapshotRequestView> {
    const table = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['table'] : undefined;
    if (typeof table !== 'string') throw new BadRequestException('body must be {"table": "<captured table>"}');
    return this.signal(table, response);
  }

  @Post(':table')
  @RequireScope('admin')
  @HttpCode(202)
  requestTable(@Param('table') table: string, @Res({ passthrough: true }) response: StatusSetter): Promise<SnapshotRequestView> {
    return this.signal(table, response);
  }

  @Get()
  @RequireScope('read:cdc.snapshots')
  async list(@Query('limit') limitText?: string): Promise<{ items: SnapshotRequestView[] }> {
    const limit = limitText === undefined ? 50 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new BadRequestException(`limit must be an integer from 1 to 500, got ${JSON.stringify(limitText)}`);
    }
    return { items: (await this.signals(null, limit)).map(view) };
  }

  @Get(':id')
  @RequireScope('read:cdc.snapshots')
  async one(@Param('id') id: string): Promise<SnapshotRequestView> {
    const [found] = await this.signals(id, 1);
    if (!found) throw new NotFoundException(`no snapshot request ${id}`);
    return view(found);
  }

  /**
   * Queues a re-snapshot of `table`, within two bounds (each request holds the slot's confirmed
   * position back while it runs, so WAL piles up on the primary meanwhile):
   * - one per table: while a request for the table is still queued, asking again answers that
   *   request (200): it has not read the table yet, so it reads everything the new caller wants;
   *   while one is running (its snapshot already taken), 409 names it;
   * - `CDC_MAX_PENDING_SNAPSHOTS` requests queued or running in all: 429 beyond.
   * Requests are checked and inserted under a transaction-scoped advisory lock, so two callers
   * at once never both get through.
   */
  private async signal(table: string, response: StatusSetter): Promise<SnapshotRequestView> {
    const tables = this.config.CDC_TABLES;
    if (!tables.includes(table)) {
      throw new BadRequestException(`table must be one of the captured tables ${tables.join(', ')}, got ${JSON.stringify(table)}`);
    }
    const limit = this.config.CDC_MAX_PENDING_SNAPSHOTS;
    const outcome = await this.database.transaction(async (client): Promise<{ id: string; existing: boolean }> => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tributary.cdc.snapshots.${this.config.CDC_SCHEMA}`]);
      const outstanding = (await client.query<OutstandingRow>(this.outstandingSql(), [EXECUTE_SNAPSHOT])).rows;
      const same = outstanding.find((row) => row.table_name === table);
      if (same?.status === 'pending') return { id: same.id, existing: true };
      if (same?.status === 'running') {
        throw new ConflictException({
          statusCode: 409,
          error: 'Conflict',
          message: `a re-snapshot of ${table} is running (request ${same.id}); ask again once GET /snapshots/${same.id} shows it completed`,
          snapshotId: same.id,
        });
      }
      const requests = new Set(outstanding.map((row) => row.id));
      if (requests.size >= limit) {
        throw new HttpException(
          {
            statusCode: 429,
            error: 'Too Many Requests',
            message: `${requests.size} re-snapshot requests are queued or running, the maximum of CDC_MAX_PENDING_SNAPSHOTS (${limit}); ask again once one completed`,
            pending: [...requests],
          },
          HttpStatus.TOO_MANY_REQUESTS,
        );
      }
      const created = randomUUID();
      await client.query(`INSERT INTO ${this.database.relation(SIGNAL_TABLE)} (id, type, data) VALUES ($1, $2, $3)`, [
        created,
        EXECUTE_SNAPSHOT,
        JSON.stringify({ 'data-collections': [`${this.config.CDC_SCHEMA}.${table}`] }),
      ]);
      return { id: created, existing: false };
    });
    if (outcome.existing) response.status(HttpStatus.OK);
    return this.one(outcome.id);
  }

  /**
   * Each (request, table) not finished: no progress row yet (queued) or a running one. Signals
   * inserted in SQL count too; a signal refused as a whole (progress under the empty table name) does not.
   */
  private outstandingSql(): string {
    return `SELECT s.id, regexp_replace(c.name, '^.*\\.', '') AS table_name, COALESCE(r.status, 'pending') AS status
       FROM ${this.database.relation(SIGNAL_TABLE)} s
       CROSS JOIN LATERAL jsonb_array_elements_text(
         CASE WHEN jsonb_typeof(s.data -> 'data-collections') = 'array' THEN s.data -> 'data-collections' ELSE '[]'::jsonb END) AS c(name)
       LEFT JOIN ${this.database.relation('cdc_resnapshots')} r
         ON r.signal_id = s.id AND r.table_name IN (regexp_replace(c.name, '^.*\\.', ''), c.name)
      WHERE s.type = $1 AND (r.status IS NULL OR r.status = 'running')
        AND NOT EXISTS (SELECT 1 FROM ${this.database.relation('cdc_resnapshots')} f WHERE f.signal_id = s.id AND f.table_name = '')
      ORDER BY s.created_at, s.id`;
  }

  private signals(id: string | null, limit: number): Promise<SignalRow[]> {
    return this.database.query<SignalRow>(
      `SELECT s.id, s.data, to_char(s.created_at AT TIME ZONE 'UTC', ${ISO}) AS requested_at,
              COALESCE((SELECT json_agg(json_build_object(
                  'table_name', r.table_name, 'status', r.status, 'rows_read', r.rows_read::text,
                  'snapshot_lsn', r.snapshot_lsn::text, 'error', r.error,
                  'started_at', to_char(r.started_at AT TIME ZONE 'UTC', ${ISO}),
                  'completed_at', to_char(r.completed_at AT TIME ZONE 'UTC', ${ISO})))
                FROM ${this.database.relation('cdc_resnapshots')} r WHERE r.signal_id = s.id), '[]') AS progress
         FROM ${this.database.relation(SIGNAL_TABLE)} s
        WHERE s.type = $1 AND ($2::text IS NULL OR s.id = $2)
        ORDER BY s.created_at DESC, s.id LIMIT $3`,
      [EXECUTE_SNAPSHOT, id, limit],
    );
  }
}

/** Status of each table the signal named ('pending' until the listener reaches it), and overall. */
function view(row: SignalRow): SnapshotRequestView {
  const collections = Array.isArray(row.data?.['data-collections']) ? (row.data['data-collections'] as unknown[]) : [];
  const named = collections.map((collection) => String(collection).split('.').at(-1) as string);
  const progress = new Map(row.progress.map((entry) => [entry.table_name, entry]));
  const tables: ResnapshotProgress[] = named.map((table, index) => {
    // A refused collection is recorded under the name the signal gave.
    const entry = progress.get(table) ?? progress.get(String(collections[index]));
    return entry
      ? {
          table,
          status: entry.status,
          rowsRead: Number(entry.rows_read),
          snapshotLsn: entry.snapshot_lsn,
          startedAt: entry.started_at,
          completedAt: entry.completed_at,
          error: entry.error,
        }
      : { table, status: 'pending', rowsRead: 0, snapshotLsn: null, startedAt: null, completedAt: null, error: null };
  });
  // A refusal of the whole signal (bad data) is recorded under the empty table name.
  const refusal = progress.get('');
  if (refusal) {
    tables.push({ table: '', status: 'failed', rowsRead: 0, snapshotLsn: null, startedAt: refusal.started_at, completedAt: refusal.completed_at, error: refusal.error });
  }
  const statuses = tables.map((table) => table.status);
  const status: ResnapshotStatus = statuses.includes('failed')
    ? 'failed'
    : statuses.length > 0 && statuses.every((s) => s === 'completed')
      ? 'completed'
      : statuses.includes('running') || statuses.includes('completed')
        ? 'running'
        : 'pending';
  return { id: row.id, requestedAt: row.requested_at, status, tables };
}
