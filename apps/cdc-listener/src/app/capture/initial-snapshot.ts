import { Client, type ClientConfig } from 'pg';
import type { ChangeEvent } from '@tributary/contracts';
import { sessionTimeouts, type SessionTimeoutSettings } from '@tributary/postgres';
import { quoteIdentifier } from '../trading-schema/trading-migrations';
import { columnValue } from './column-values';
import { formatLsn, lsnNumber, parseLsn } from './pgoutput';
import type { CapturedChange } from './transaction-assembler';

export interface InitialSnapshotOptions {
  readonly databaseUrl: string;
  readonly schema: string;
  readonly tables: readonly string[];
  readonly slotName: string;
  readonly serverName: string;
  readonly database: string;
  readonly version: string;
  readonly sessionOptions: string;
  /** Limits of the reading connection (statement_timeout only; it idles in its transaction while Kafka takes the reads). */
  readonly timeouts?: SessionTimeoutSettings;
  readonly primaryKeys: ReadonlyMap<string, string[]>;
  /** Rows read per round trip (a cursor), so a large table is never held in memory whole. */
  readonly batchRows?: number;
  /** Writes a batch of `op: r` events; resolves once Kafka acknowledged them. */
  readonly deliver: (changes: CapturedChange[]) => Promise<void>;
}

/**
 * Creates the slot and reads the tracked tables as of the exact point the slot starts from:
 * `CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT` on a replication connection exports the snapshot of
 * the slot's consistent point, and a `REPEATABLE READ` transaction imports it with
 * `SET TRANSACTION SNAPSHOT`. Every row committed before the consistent point is read here; every
 * change committed after it is streamed from the slot: no gap and no double.
 *
 * The exported snapshot lives only while the replication connection runs no other command, so
 * that connection is held idle until the reading transaction has imported it.
 *
 * A crash during the snapshot leaves a slot that was never confirmed; `<schema>.cdc_snapshots`
 * records the snapshot as started, and the next start drops the slot and takes it again.
 */
export async function takeInitialSnapshot(options: InitialSnapshotOptions): Promise<bigint> {
  const { schema, slotName } = options;
  const marker = `${quoteIdentifier(schema)}.cdc_snapshots`;
  const replication = new Client({
    connectionString: options.databaseUrl,
    replication: 'database',
    application_name: `cdc-listener:${slotName}:snapshot`,
  } as ClientConfig);
  const reader = new Client({
    connectionString: options.databaseUrl,
    application_name: `cdc-listener:${slotName}:snapshot`,
    options: options.sessionOptions,
    ...(options.timeouts ? sessionTimeouts(options.timeouts, { idleInTransaction: true }) : {}),
    types: { getTypeParser: () => (text: string) => text },
  } as ClientConfig);
  await replication.connect();
  await reader.connect();
  try {
    await reader.query(
      `CREATE TABLE IF NOT EXISTS ${marker} (slot_name text PRIMARY KEY, consistent_point pg_lsn,
         started_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz)`,
    );
    await reader.query(
      `INSERT INTO ${marker} (slot_name) VALUES ($1)
         ON CONFLICT (slot_name) DO UPDATE SET consistent_point = NULL, started_at = now(), completed_at = NULL`,
      [slotName],
    );
    const created = await replication.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${quoteIdentifier(slotName)} LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    const slot = created.rows[0];
    if (!slot) throw new Error(`CREATE_REPLICATION_SLOT ${slotName} returned nothing`);
    const consistentPoint = parseLsn(slot.consistent_point);
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await reader.query(`SET TRANSACTION SNAPSHOT '${slot.snapshot_name.replace(/'/g, "''")}'`);
    const startedAt = Date.now();
    const last = options.tables.length - 1;
    for (const [index, table] of options.tables.entries()) {
      await readTable(reader, options, table, consistentPoint, startedAt, index === 0, index === last);
    }
    await reader.query('COMMIT');
    await reader.query(
      `UPDATE ${marker} SET consistent_point = $2, completed_at = now() WHERE slot_name = $1`,
      [slotName, formatLsn(consistentPoint)],
    );
    return consistentPoint;
  } catch (error) {
    await reader.query('ROLLBACK').catch(() => undefined);
    // Never leave a slot whose snapshot did not complete: the next start takes both again.
    await reader
      .query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [
        slotName,
      ])
      .catch(() => undefined);
    throw error;
  } finally {
    await replication.end().catch(() => undefined);
    await reader.end().catch(() => undefined);
  }
}

/** Whether the slot exists without a completed snapshot (a crash interrupted it): take it again. */
export async function snapshotInterrupted(admin: Client, schema: string, slotName: string): Promise<boolean> {
  const table = await admin.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
    `${quoteIdentifier(schema)}.cdc_snapshots`,
  ]);
  if (!table.rows[0]?.present) return false;
  const marker = await admin.query<{ completed: boolean }>(
    `SELECT completed_at IS NOT NULL AS completed FROM ${quoteIdentifier(schema)}.cdc_snapshots WHERE slot_name = $1`,
    [slotName],
  );
  // No row: the slot predates snapshots (or was created by hand), and is streamed as it is.
  return marker.rows[0]?.completed === false;
}

async function readTable(
  reader: Client,
  options: InitialSnapshotOptions,
  table: string,
  consistentPoint: bigint,
  startedAt: number,
  firstTable: boolean,
  lastTable: boolean,
): Promise<void> {
  await readTableRows(reader, {
    schema: options.schema,
    table,
    primaryKey: options.primaryKeys.get(table) ?? [],
    serverName: options.serverName,
    database: options.database,
    version: options.version,
    lsn: consistentPoint,
    startedAt,
    batchRows: options.batchRows,
    marker: (rowNumber, lastRow) =>
      firstTable && rowNumber === 1 ? 'first' : lastTable && lastRow ? 'last' : lastRow ? 'last_in_data_collection' : 'true',
    // Dedup key of a snapshot read: the slot's consistent point, the table and the row's place.
    idempotencyKey: (rowNumber) => `${consistentPoint}:snapshot:${table}:${rowNumber}`,
    deliver: options.deliver,
  });
}

export interface TableReadOptions {
  readonly schema: string;
  readonly table: string;
  readonly primaryKey: readonly string[];
  readonly serverName: string;
  readonly database: string;
  readonly version: string;
  /** Position of the snapshot in the WAL: `source.lsn` and `source.sequence` of every read. */
  readonly lsn: bigint;
  /** `source.ts_ms` of every read: when the snapshot started. */
  readonly startedAt: number;
  readonly batchRows?: number;
  /** `source.snapshot` of the read with this row number (from 1); `lastRow` for the table's last. */
  readonly marker: (rowNumber: number, lastRow: boolean) => ChangeEvent.Value['source']['snapshot'];
  readonly idempotencyKey: (rowNumber: number) => string;
  /** Writes a batch of reads; resolves once Kafka acknowledged them. */
  readonly deliver: (changes: CapturedChange[]) => Promise<void>;
  /** Called after each delivered batch with the rows read so far. */
  readonly onProgress?: (rowsRead: number) => Promise<void> | void;
}

/**
 * Reads one table inside the reader's open `REPEATABLE READ` transaction with a cursor (a batch of
 * rows per round trip, so a large table is never held whole) and delivers each batch as `op: r`
 * events, values mapped exactly as streamed ones. Returns the number of rows read.
 */
export async function readTableRows(reader: Client, options: TableReadOptions): Promise<number> {
  const batchRows = options.batchRows ?? 1000;
  const { table } = options;
  const cursor = `cdc_snapshot_${table.replace(/\W/g, '_')}`;
  const relation = `${quoteIdentifier(options.schema)}.${quoteIdentifier(table)}`;
  await reader.query(`DECLARE ${quoteIdentifier(cursor)} NO SCROLL CURSOR FOR SELECT * FROM ${relation}`);
  const lsn = lsnNumber(options.lsn);
  const sequence = JSON.stringify([null, options.lsn.toString()]);
  let rowNumber = 0;
  for (;;) {
    const batch = await reader.query<Record<string, string | null>>(`FETCH ${batchRows} FROM ${quoteIdentifier(cursor)}`);
    const exhausted = batch.rows.length < batchRows;
    const primaryKey = options.primaryKey.length > 0 ? options.primaryKey : batch.fields.map((field) => field.name);
    const pending: CapturedChange[] = [];
    for (const [index, raw] of batch.rows.entries()) {
      rowNumber++;
      const row: ChangeEvent.Row = {};
      for (const field of batch.fields) {
        const text = raw[field.name];
        row[field.name] = text === null || text === undefined ? null : columnValue(field.dataTypeID, text);
      }
      const now = Date.now();
      pending.push({
        schema: options.schema,
        table,
        primaryKey,
        value: {
          before: null,
          after: row,
          op: 'r',
          source: {
            version: options.version,
            connector: 'postgresql',
            name: options.serverName,
            ts_ms: options.startedAt,
            ts_us: options.startedAt * 1000,
            snapshot: options.marker(rowNumber, exhausted && index === batch.rows.length - 1),
            db: options.database,
            sequence,
            schema: options.schema,
            table,
            txId: null,
            lsn,
          },
          ts_ms: now,
          ts_us: now * 1000,
          transaction: null,
        },
        idempotencyKey: options.idempotencyKey(rowNumber),
      });
    }
    if (pending.length > 0) {
      await options.deliver(pending);
      await options.onProgress?.(rowNumber);
    }
    if (exhausted) break;
  }
  await reader.query(`CLOSE ${quoteIdentifier(cursor)}`);
  return rowNumber;
}
