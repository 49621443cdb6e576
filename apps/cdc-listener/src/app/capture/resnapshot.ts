import { Client, type ClientConfig } from 'pg';
import type { ChangeEvent } from '@tributary/contracts';
import { sessionTimeouts, type SessionTimeoutSettings } from '@tributary/postgres';
import { quoteIdentifier } from '../trading-schema/trading-migrations';
import { readTableRows } from './initial-snapshot';
import type { CapturedChange } from './transaction-assembler';

/** The signal type that asks for a re-snapshot, as in Debezium. */
export const EXECUTE_SNAPSHOT = 'execute-snapshot';

/** One table to read again, asked for by one signal row. */
export interface ResnapshotRequest {
  readonly signalId: string;
  readonly table: string;
}

/** A signal that cannot be carried out, with the reason recorded for `GET /snapshots`. */
export interface RejectedSignal {
  readonly signalId: string;
  readonly table: string;
  readonly error: string;
}

/**
 * Reads the re-snapshot requests of signal rows (Debezium's signal table: `id`, `type`,
 * `data` = `{"data-collections": ["trading.orders"]}`). A collection is `<table>` or
 * `<schema>.<table>`; it must be one of the captured tables. Signals of other types are ignored.
 */
export function requestsOfSignals(
  signals: readonly ChangeEvent.Row[],
  schema: string,
  tables: readonly string[],
): { requests: ResnapshotRequest[]; rejected: RejectedSignal[] } {
  const requests: ResnapshotRequest[] = [];
  const rejected: RejectedSignal[] = [];
  for (const signal of signals) {
    const signalId = typeof signal['id'] === 'string' ? signal['id'] : String(signal['id']);
    if (signal['type'] !== EXECUTE_SNAPSHOT) continue;
    const data = signal['data'];
    const collections =
      typeof data === 'object' && data !== null && !Array.isArray(data)
        ? (data as Record<string, unknown>)['data-collections']
        : undefined;
    if (!Array.isArray(collections) || collections.length === 0 || !collections.every((c) => typeof c === 'string')) {
      rejected.push({ signalId, table: '', error: 'data must be {"data-collections": ["<schema>.<table>", ...]}' });
      continue;
    }
    for (const collection of collections as string[]) {
      const dot = collection.lastIndexOf('.');
      const collectionSchema = dot < 0 ? schema : collection.slice(0, dot);
      const table = dot < 0 ? collection : collection.slice(dot + 1);
      if (collectionSchema !== schema || !tables.includes(table)) {
        rejected.push({ signalId, table: collection, error: `${collection} is not a captured table (${schema}.{${tables.join(',')}})` });
      } else if (!requests.some((request) => request.signalId === signalId && request.table === table)) {
        requests.push({ signalId, table });
      }
    }
  }
  return { requests, rejected };
}

/**
 * A PostgreSQL snapshot (`pg_current_snapshot()`: xmin, xmax, in-progress xids) and the WAL insert
 * position when it was taken. Every transaction visible in it committed before that position, so
 * in the change stream its place is just before the first commit at or after `lsn`.
 */
export class SnapshotVisibility {
  constructor(
    readonly xmin: bigint,
    readonly xmax: bigint,
    readonly inProgress: ReadonlySet<bigint>,
    readonly lsn: bigint,
  ) {}

  /** Parses `xmin:xmax:xip,xip` (64-bit xids with their epoch). */
  static parse(snapshot: string, lsn: bigint): SnapshotVisibility {
    const match = /^(\d+):(\d+):([\d,]*)$/.exec(snapshot);
    if (!match) throw new Error(`not a pg_snapshot: ${snapshot}`);
    const inProgress = new Set((match[3] ?? '').split(',').filter(Boolean).map((xid) => BigInt(xid)));
    return new SnapshotVisibility(BigInt(match[1] as string), BigInt(match[2] as string), inProgress, lsn);
  }

  /** Whether the committed transaction with this 32-bit xid (as pgoutput sends it) is visible. */
  sees(xid: number): boolean {
    // Extend the 32-bit xid with the epoch that puts it nearest xmax: live xids are within 2^31 of it.
    let full = (this.xmax & ~0xffffffffn) | BigInt(xid >>> 0);
    if (full - this.xmax > 0x80000000n) full -= 0x100000000n;
    else if (this.xmax - full > 0x80000000n) full += 0x100000000n;
    if (full < this.xmin) return true;
    return full < this.xmax && !this.inProgress.has(full);
  }
}

export interface ResnapshotReaderOptions {
  readonly databaseUrl: string;
  readonly schema: string;
  readonly serverName: string;
  readonly version: string;
  readonly sessionOptions: string;
  /**
   * Limits of the reading connection (statement_timeout only: its transaction waits, idle, for the
   * stream to reach the snapshot's position) and of the progress writes (both).
   */
  readonly timeouts?: SessionTimeoutSettings;
  readonly primaryKeys: () => ReadonlyMap<string, readonly string[]>;
  readonly batchRows?: number;
  readonly deliver: (changes: CapturedChange[]) => Promise<void>;
}

/** An open `REPEATABLE READ` transaction on the table to read, and where it sits in the WAL. */
export interface OpenSnapshot {
  readonly request: ResnapshotRequest;
  readonly visibility: SnapshotVisibility;
  readonly database: string;
  readonly startedAt: number;
}

/**
 * Takes and reads the snapshots of on-demand re-snapshots, and records their progress in
 * `<schema>.cdc_resnapshots` (running, completed with the rows read, or failed with the reason).
 */
export class ResnapshotReader {
  private reader: Client | null = null;
  private progress: Client | null = null;

  constructor(private readonly options: ResnapshotReaderOptions) {}

  /** Whether this request already completed (a restart sees its signal again): it is not read twice. */
  async completed(request: ResnapshotRequest): Promise<boolean> {
    const progress = await this.progressClient();
    const result = await progress.query(
      `SELECT 1 FROM ${this.table()} WHERE signal_id = $1 AND table_name = $2 AND status = 'completed'`,
      [request.signalId, request.table],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async reject(rejected: RejectedSignal): Promise<void> {
    await this.record(rejected.signalId, rejected.table, 'failed', 0, null, rejected.error);
  }

  /** Opens the reading transaction (closing any earlier one) and returns its place in the WAL. */
  async open(request: ResnapshotRequest): Promise<OpenSnapshot> {
    await this.closeReader();
    const reader = new Client({
      connectionString: this.options.databaseUrl,
      application_name: 'cdc-listener:resnapshot',
      options: this.options.sessionOptions,
      ...(this.options.timeouts ? sessionTimeouts(this.options.timeouts, { idleInTransaction: true }) : {}),
      types: { getTypeParser: () => (text: string) => text },
    } as ClientConfig);
    this.reader = reader;
    reader.on('error', () => undefined);
    await reader.connect();
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The first statement fixes the transaction's snapshot; the WAL position is read after it.
    const taken = await reader.query<{ snapshot: string; lsn: string; db: string }>(
      `SELECT pg_current_snapshot()::text AS snapshot, (pg_current_wal_insert_lsn() - '0/0')::text AS lsn, current_database() AS db`,
    );
    const row = taken.rows[0];
    if (!row) throw new Error('pg_current_snapshot() returned nothing');
    const visibility = SnapshotVisibility.parse(row.snapshot, BigInt(row.lsn.split('.')[0] as string));
    return { request, visibility, database: row.db, startedAt: Date.now() };
  }

  /** Reads the table in the open transaction and delivers the reads (`op: r`, `snapshot: incremental`). */
  async read(snapshot: OpenSnapshot): Promise<number> {
    const reader = this.reader;
    if (!reader) throw new Error('no re-snapshot transaction is open');
    const { request, visibility } = snapshot;
    await this.record(request.signalId, request.table, 'running', 0, visibility.lsn, null);
    try {
      const rows = await readTableRows(reader, {
        schema: this.options.schema,
        table: request.table,
        primaryKey: this.options.primaryKeys().get(request.table) ?? [],
        serverName: this.options.serverName,
        database: snapshot.database,
        version: this.options.version,
        lsn: visibility.lsn,
        startedAt: snapshot.startedAt,
        batchRows: this.options.batchRows,
        marker: () => 'incremental',
        // Distinct from the initial snapshot's keys: the snapshot's position and the signal.
        idempotencyKey: (rowNumber) => `${visibility.lsn}:resnapshot:${request.signalId}:${request.table}:${rowNumber}`,
        deliver: this.options.deliver,
        onProgress: (rowsRead) => this.record(request.signalId, request.table, 'running', rowsRead, visibility.lsn, null),
      });
      await reader.query('COMMIT');
      await this.record(request.signalId, request.table, 'completed', rows, visibility.lsn, null);
      return rows;
    } finally {
      await this.closeReader();
    }
  }

  /** Records a failure the stream did not recover from by itself (it retries after a restart). */
  async failed(request: ResnapshotRequest, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    await this.record(request.signalId, request.table, 'failed', 0, null, message).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.closeReader();
    const progress = this.progress;
    this.progress = null;
    await progress?.end().catch(() => undefined);
  }

  private table(): string {
    return `${quoteIdentifier(this.options.schema)}.cdc_resnapshots`;
  }

  private async record(
    signalId: string,
    table: string,
    status: 'running' | 'completed' | 'failed',
    rowsRead: number,
    lsn: bigint | null,
    error: string | null,
  ): Promise<void> {
    const progress = await this.progressClient();
    await progress.query(
      `INSERT INTO ${this.table()} (signal_id, table_name, status, rows_read, snapshot_lsn, error, completed_at)
       VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $3 = 'running' THEN NULL ELSE now() END)
       ON CONFLICT (signal_id, table_name) DO UPDATE SET status = EXCLUDED.status, rows_read = EXCLUDED.rows_read,
         snapshot_lsn = EXCLUDED.snapshot_lsn, error = EXCLUDED.error, completed_at = EXCLUDED.completed_at,
         started_at = CASE WHEN EXCLUDED.status = 'running' AND ${this.table()}.status <> 'running'
                           THEN now() ELSE ${this.table()}.started_at END`,
      [signalId, table, status, rowsRead, lsn === null ? null : lsn.toString(), error],
    );
  }

  private async progressClient(): Promise<Client> {
    if (!this.progress) {
      const client = new Client({
        connectionString: this.options.databaseUrl,
        application_name: 'cdc-listener:resnapshot',
        ...(this.options.timeouts ? sessionTimeouts(this.options.timeouts) : {}),
      });
      client.on('error', () => {
        if (this.progress === client) this.progress = null;
      });
      this.progress = client;
      try {
        await client.connect();
      } catch (error) {
        this.progress = null;
        throw error;
      }
    }
    return this.progress;
  }

  private async closeReader(): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    await reader?.end().catch(() => undefined);
  }
}
