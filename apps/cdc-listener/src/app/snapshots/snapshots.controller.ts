import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
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

const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`;

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
  request(@Body() body: unknown): Promise<SnapshotRequestView> {
    const table = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['table'] : undefined;
    if (typeof table !== 'string') throw new BadRequestException('body must be {"table": "<captured table>"}');
    return this.signal(table);
  }

  @Post(':table')
  @RequireScope('admin')
  @HttpCode(202)
  requestTable(@Param('table') table: string): Promise<SnapshotRequestView> {
    return this.signal(table);
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

  private async signal(table: string): Promise<SnapshotRequestView> {
    const tables = this.config.CDC_TABLES;
    if (!tables.includes(table)) {
      throw new BadRequestException(`table must be one of the captured tables ${tables.join(', ')}, got ${JSON.stringify(table)}`);
    }
    const id = randomUUID();
    await this.database.query(`INSERT INTO ${this.database.relation(SIGNAL_TABLE)} (id, type, data) VALUES ($1, $2, $3)`, [
      id,
      EXECUTE_SNAPSHOT,
      JSON.stringify({ 'data-collections': [`${this.config.CDC_SCHEMA}.${table}`] }),
    ]);
    return this.one(id);
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
