import { Client, type ClientConfig } from 'pg';
import type { Logger } from 'pino';
import { quoteIdentifier } from '../trading-schema/trading-migrations';
import { decodePgOutput, decodeReplicationMessage, formatLsn, parseLsn, standbyStatusUpdate } from './pgoutput';
import { takeInitialSnapshot, snapshotInterrupted } from './initial-snapshot';
import { type CapturedChange, type CapturedTransaction, TransactionAssembler } from './transaction-assembler';

export interface ChangeStreamOptions {
  readonly databaseUrl: string;
  readonly schema: string;
  readonly tables: readonly string[];
  readonly replicaIdentityFull: readonly string[];
  readonly slotName: string;
  readonly publication: string;
  readonly serverName: string;
  readonly version: string;
  readonly statusIntervalMs: number;
  /** Transactions handed to `deliver` and not yet acknowledged before reading pauses. */
  readonly maxInFlightTransactions?: number;
  readonly logger: Logger;
  /** Writes a transaction to Kafka; resolves once the brokers acknowledged all of it. */
  readonly deliver: (transaction: CapturedTransaction) => Promise<void>;
  /**
   * On the first start of the slot, read the tracked tables as of the slot's consistent point and
   * hand the rows (`op: r`) to `deliverSnapshot` before streaming (Debezium's snapshot.mode=initial).
   */
  readonly initialSnapshot?: boolean;
  /** Writes a batch of snapshot reads to Kafka; resolves once the brokers acknowledged all of it. */
  readonly deliverSnapshot?: (changes: CapturedChange[]) => Promise<void>;
  /** Called after a position was confirmed to PostgreSQL. */
  readonly onConfirmed?: (lsn: bigint, transaction: CapturedTransaction | null) => void;
}

/** Session settings of the replication connection: the text forms the value mapping expects. */
const SESSION_OPTIONS = '-c DateStyle=ISO,YMD -c TimeZone=UTC -c extra_float_digits=3 -c IntervalStyle=iso_8601';

/**
 * Streams the changes of the publication from the permanent slot and confirms positions to
 * PostgreSQL only behind Kafka: the flushed LSN sent in a standby status update is always the end
 * of the commit record of a transaction whose events (and those of every earlier one) Kafka has
 * acknowledged. A keepalive's end-of-WAL position is confirmed only when nothing is being
 * received or delivered, so an idle slot still advances. On any failure the stream is dropped and
 * started again from the slot: PostgreSQL sends again exactly the unconfirmed transactions.
 */
export class ChangeStream {
  private replication: Client | null = null;
  private assembler: TransactionAssembler;
  private readonly inFlight: { transaction: CapturedTransaction; done: boolean; failed?: unknown }[] = [];
  private confirmedLsn = 0n;
  private lastStatusAt = 0;
  private statusTimer?: NodeJS.Timeout;
  private trailingStatus?: NodeJS.Timeout;
  private generation = 0;
  private stopped = false;
  private paused = false;
  private primaryKeys = new Map<string, string[]>();
  /** Last error of the stream, for readiness. */
  lastError: string | null = null;
  streaming = false;

  constructor(private readonly options: ChangeStreamOptions) {
    this.assembler = this.newAssembler('');
  }

  get confirmed(): bigint {
    return this.confirmedLsn;
  }

  /** Creates the publication, replica identities and slot when missing (idempotent). */
  async prepare(admin: Client): Promise<void> {
    const { schema, tables, publication, slotName } = this.options;
    const tableList = tables.map((table) => `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`).join(', ');
    const existing = await admin.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
    if (existing.rowCount === 0) {
      try {
        await admin.query(`CREATE PUBLICATION ${quoteIdentifier(publication)} FOR TABLE ${tableList}`);
      } catch (error) {
        if ((error as { code?: string }).code !== '42710') throw error; // created meanwhile
      }
    }
    await admin.query(`ALTER PUBLICATION ${quoteIdentifier(publication)} SET TABLE ${tableList}`);
    for (const table of this.options.replicaIdentityFull) {
      if (!tables.includes(table)) continue;
      const identity = await admin.query<{ relreplident: string }>(
        `SELECT c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
        [schema, table],
      );
      if (identity.rows[0]?.relreplident !== 'f') {
        await admin.query(`ALTER TABLE ${quoteIdentifier(schema)}.${quoteIdentifier(table)} REPLICA IDENTITY FULL`);
      }
    }
    const keys = await admin.query<{ table: string; columns: string[] }>(
      `SELECT c.relname AS table, array_agg(a.attname ORDER BY k.ordinality)::text[] AS columns
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ordinality)
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE i.indisprimary AND n.nspname = $1
        GROUP BY c.relname`,
      [schema],
    );
    this.primaryKeys = new Map(keys.rows.map((row) => [row.table, row.columns]));
    const database = (await admin.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db ?? 'postgres';
    this.assembler = this.newAssembler(database);
    if (this.options.initialSnapshot && (await snapshotInterrupted(admin, schema, slotName))) {
      // A crash interrupted the snapshot: the slot was never confirmed, so drop it and take both again.
      await admin.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
        slotName,
      ]);
      this.options.logger.warn({ slot: slotName }, 'initial snapshot was interrupted; taking it again');
    }
    const slot = await admin.query<{ plugin: string }>('SELECT plugin FROM pg_replication_slots WHERE slot_name = $1', [
      slotName,
    ]);
    if (slot.rowCount === 0 && this.options.initialSnapshot) {
      const deliver = this.options.deliverSnapshot;
      if (!deliver) throw new Error('initialSnapshot needs deliverSnapshot');
      const consistentPoint = await takeInitialSnapshot({
        databaseUrl: this.options.databaseUrl,
        schema,
        tables,
        slotName,
        serverName: this.options.serverName,
        database,
        version: this.options.version,
        sessionOptions: SESSION_OPTIONS,
        primaryKeys: this.primaryKeys,
        deliver,
      });
      this.options.logger.info({ slot: slotName, consistentPoint: formatLsn(consistentPoint) }, 'initial snapshot taken');
    } else if (slot.rowCount === 0) {
      try {
        await admin.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slotName]);
        this.options.logger.info({ slot: slotName }, 'replication slot created');
      } catch (error) {
        if ((error as { code?: string }).code !== '42710') throw error;
      }
    } else if (slot.rows[0]?.plugin !== 'pgoutput') {
      throw new Error(`replication slot ${slotName} uses plugin ${slot.rows[0]?.plugin}, not pgoutput`);
    }
  }

  /** Opens the replication connection and streams until `stop()` or a failure (then throws). */
  async run(): Promise<void> {
    const generation = ++this.generation;
    const client = new Client({
      connectionString: this.options.databaseUrl,
      replication: 'database',
      application_name: `cdc-listener:${this.options.slotName}`,
      options: SESSION_OPTIONS,
    } as ClientConfig);
    this.replication = client;
    this.inFlight.length = 0;
    this.assembler.reset();
    const failure = new Promise<never>((_, reject) => {
      client.on('error', reject);
      client.on('end', () => reject(new Error('replication connection closed')));
    });
    failure.catch(() => undefined);
    await client.connect();
    const slot = await client.query<{ confirmed_flush_lsn: string | null }>(
      `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '${this.options.slotName.replace(/'/g, "''")}'`,
    );
    const start = slot.rows[0]?.confirmed_flush_lsn;
    if (!start) throw new Error(`replication slot ${this.options.slotName} does not exist`);
    this.confirmedLsn = parseLsn(start);
    const connection = (client as unknown as { connection: PgConnection }).connection;
    connection.on('copyData', (message: { chunk: Buffer }) => {
      if (generation !== this.generation) return;
      try {
        this.onCopyData(message.chunk, connection);
      } catch (error) {
        this.fail(error);
      }
    });
    this.statusTimer = setInterval(() => this.sendStatus(connection, true), this.options.statusIntervalMs);
    this.options.logger.info({ slot: this.options.slotName, from: formatLsn(this.confirmedLsn) }, 'streaming changes');
    this.streaming = true;
    this.lastError = null;
    const streaming = client.query(
      `START_REPLICATION SLOT ${quoteIdentifier(this.options.slotName)} LOGICAL ${formatLsn(this.confirmedLsn)} ` +
        `(proto_version '1', publication_names '${this.options.publication.replace(/'/g, "''")}', messages 'true')`,
    );
    try {
      await Promise.race([streaming, failure]);
      if (!this.stopped) throw new Error('replication stream ended');
    } finally {
      this.streaming = false;
      clearInterval(this.statusTimer);
      clearTimeout(this.trailingStatus);
      this.trailingStatus = undefined;
      this.generation++;
      this.replication = null;
      await client.end().catch(() => undefined);
    }
  }

  /** Ends the stream; positions not yet confirmed are sent again on the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    const client = this.replication;
    if (client) {
      const connection = (client as unknown as { connection: PgConnection }).connection;
      this.sendStatus(connection, true);
      await client.end().catch(() => undefined);
    }
  }

  private newAssembler(database: string): TransactionAssembler {
    return new TransactionAssembler({
      serverName: this.options.serverName,
      database,
      version: this.options.version,
      primaryKeyOf: (schema, table) => (schema === this.options.schema ? this.primaryKeys.get(table) : undefined),
    });
  }

  private onCopyData(chunk: Buffer, connection: PgConnection): void {
    const message = decodeReplicationMessage(chunk);
    if (!message) return;
    if (message.tag === 'keepalive') {
      // Everything up to the server's position was received, and all of it is in Kafka.
      if (!this.assembler.inTransaction && this.inFlight.length === 0 && message.walEnd > this.confirmedLsn) {
        this.confirmedLsn = message.walEnd;
        this.options.onConfirmed?.(this.confirmedLsn, null);
      }
      if (message.replyRequested) this.sendStatus(connection, true);
      return;
    }
    const transaction = this.assembler.handle(decodePgOutput(message.payload), message.walStart);
    if (transaction) this.dispatch(transaction, connection);
  }

  private dispatch(transaction: CapturedTransaction, connection: PgConnection): void {
    const generation = this.generation;
    const entry: (typeof this.inFlight)[number] = { transaction, done: false };
    this.inFlight.push(entry);
    if (this.inFlight.length >= (this.options.maxInFlightTransactions ?? 1000) && !this.paused) {
      this.paused = true;
      connection.stream.pause();
    }
    this.options.deliver(transaction).then(
      () => {
        if (generation !== this.generation) return;
        entry.done = true;
        this.confirmDelivered(connection);
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        this.fail(error);
      },
    );
  }

  /** Confirms the end of the last transaction of the acknowledged prefix of the in-flight queue. */
  private confirmDelivered(connection: PgConnection): void {
    let last: CapturedTransaction | null = null;
    for (let head = this.inFlight[0]; head?.done; head = this.inFlight[0]) {
      this.inFlight.shift();
      last = head.transaction;
    }
    if (!last) return;
    if (last.endLsn > this.confirmedLsn) this.confirmedLsn = last.endLsn;
    this.options.onConfirmed?.(this.confirmedLsn, last);
    if (this.paused && this.inFlight.length < (this.options.maxInFlightTransactions ?? 1000) / 2) {
      this.paused = false;
      connection.stream.resume();
    }
    this.sendStatus(connection, false);
  }

  private sendStatus(connection: PgConnection, force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastStatusAt < 50) {
      // At most one update per 50 ms under load; a trailing one carries the latest position.
      this.trailingStatus ??= setTimeout(() => {
        this.trailingStatus = undefined;
        this.sendStatus(connection, true);
      }, 50);
      return;
    }
    this.lastStatusAt = now;
    try {
      connection.sendCopyFromChunk(standbyStatusUpdate(this.confirmedLsn, now));
    } catch {
      // the connection is gone: the next start reads the slot's position
    }
  }

  private fail(error: unknown): void {
    this.lastError = error instanceof Error ? error.message : String(error);
    this.options.logger.error({ err: error }, 'change stream failed; restarting from the slot');
    this.generation++;
    this.replication?.end().catch(() => undefined);
  }
}

interface PgConnection {
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void };
}
