import { Client, type ClientConfig } from 'pg';
import type { Logger } from 'pino';
import type { SessionTimeoutSettings } from '@tributary/postgres';
import { quoteIdentifier } from '../trading-schema/trading-migrations';
import { decodePgOutput, decodeReplicationMessage, formatLsn, parseLsn, standbyStatusUpdate } from './pgoutput';
import { takeInitialSnapshot, snapshotInterrupted } from './initial-snapshot';
import { type OpenSnapshot, type ResnapshotRequest, ResnapshotReader, requestsOfSignals } from './resnapshot';
import {
  type CapturedChange,
  type CapturedTransaction,
  type TransactionChunk,
  type TransactionHeader,
  TransactionAssembler,
} from './transaction-assembler';

/** Debezium-style signal table of the captured schema: its inserts are read from the stream itself. */
export const SIGNAL_TABLE = 'cdc_signals';

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
  /**
   * Changes of one transaction held in memory before they are handed to `deliverChunk` ahead of
   * the commit (default: unlimited). Reading also pauses while twice this many changes (at least
   * 20 000) wait for Kafka, so memory stays bounded whatever the transaction's size.
   */
  readonly maxEventsInMemory?: number;
  /** Writes a chunk of a large transaction to Kafka (BEGIN first with the first chunk). */
  readonly deliverChunk?: (chunk: TransactionChunk) => Promise<void>;
  /**
   * Carry out the re-snapshot signals inserted into `<schema>.cdc_signals` (needs
   * `deliverSnapshot`); the signal table is added to the publication.
   */
  readonly signals?: boolean;
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
  /** Rows per fetch of a snapshot (initial and re-snapshots). */
  readonly snapshotBatchRows?: number;
  /** Called for each transaction whose position is confirmed to PostgreSQL (and for keepalive positions, with null). */
  readonly onConfirmed?: (lsn: bigint, transaction: CapturedTransaction | null) => void;
  /**
   * statement_timeout and idle_in_transaction_session_timeout of the snapshot readers (statement
   * limit only: they stay idle in their transaction while the stream catches up or Kafka pushes
   * back) and of the re-snapshot progress writes (both). The replication connection is exempt from
   * both: START_REPLICATION is one command that lasts as long as the stream. Default: no limits.
   */
  readonly timeouts?: SessionTimeoutSettings;
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
  /** Deliveries in stream order; the acknowledged prefix is confirmed. */
  private readonly inFlight: Delivery[] = [];
  /** The large transaction being received in chunks. */
  private openDelivery: Delivery | null = null;
  private unackedEvents = 0;
  /** While a step is asynchronous (a re-snapshot), later steps wait behind it, in stream order. */
  private sequencer: Promise<void> | null = null;
  private readonly resnapshots: ResnapshotReader | null;
  private readonly resnapshotQueue: { request: ResnapshotRequest; blocker: Delivery }[] = [];
  private activeSnapshot: { snapshot: OpenSnapshot; blocker: Delivery } | null = null;
  private positionPoll?: NodeJS.Timeout;
  /** xids of the last transactions received: a new snapshot must see all of them. */
  private readonly recentXids: number[] = [];
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
    const deliverSnapshot = options.deliverSnapshot;
    if (options.signals && !deliverSnapshot) throw new Error('signals need deliverSnapshot');
    this.resnapshots =
      options.signals && deliverSnapshot
        ? new ResnapshotReader({
            databaseUrl: options.databaseUrl,
            schema: options.schema,
            serverName: options.serverName,
            version: options.version,
            sessionOptions: SESSION_OPTIONS,
            timeouts: options.timeouts,
            primaryKeys: () => this.primaryKeys,
            batchRows: options.snapshotBatchRows,
            deliver: deliverSnapshot,
          })
        : null;
  }

  /** The maximum of unacknowledged changes before reading from PostgreSQL pauses. */
  private get maxInFlightEvents(): number {
    return Math.max(20_000, 2 * (this.options.maxEventsInMemory ?? 10_000));
  }

  get confirmed(): bigint {
    return this.confirmedLsn;
  }

  /** Creates the publication, replica identities and slot when missing (idempotent). */
  async prepare(admin: Client): Promise<void> {
    const { schema, tables, publication, slotName } = this.options;
    const published = [...tables];
    if (this.options.signals && !published.includes(SIGNAL_TABLE)) {
      const signalTable = await admin.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [
        `${quoteIdentifier(schema)}.${SIGNAL_TABLE}`,
      ]);
      if (signalTable.rows[0]?.present) published.push(SIGNAL_TABLE);
      else this.options.logger.warn({ table: `${schema}.${SIGNAL_TABLE}` }, 'no signal table: re-snapshot signals are off');
    }
    const tableList = published.map((table) => `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`).join(', ');
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
        timeouts: this.options.timeouts,
        primaryKeys: this.primaryKeys,
        batchRows: this.options.snapshotBatchRows,
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
    this.openDelivery = null;
    this.unackedEvents = 0;
    this.sequencer = null;
    this.resnapshotQueue.length = 0;
    this.activeSnapshot = null;
    this.paused = false;
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
      clearInterval(this.positionPoll);
      await this.resnapshots?.close();
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
      signalTable: this.options.signals ? { schema: this.options.schema, table: SIGNAL_TABLE } : undefined,
      maxEventsInMemory: this.options.deliverChunk ? this.options.maxEventsInMemory : undefined,
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
      if (this.activeSnapshot && !this.assembler.inTransaction) {
        const walEnd = message.walEnd;
        this.sequence(() => this.atPosition(walEnd));
      }
      if (message.replyRequested) this.sendStatus(connection, true);
      return;
    }
    const output = this.assembler.handle(decodePgOutput(message.payload), message.walStart);
    if (output?.kind === 'chunk') this.dispatchChunk(output.chunk, connection);
    else if (output?.kind === 'commit') this.dispatch(output.transaction, connection);
  }

  /** A chunk of a large transaction: produced ahead of the commit, confirmed only after it. */
  private dispatchChunk(chunk: TransactionChunk, connection: PgConnection): void {
    const deliverChunk = this.options.deliverChunk;
    if (!deliverChunk) throw new Error('a chunk without deliverChunk');
    let entry = this.openDelivery;
    if (!entry) {
      entry = newDelivery();
      this.inFlight.push(entry);
      this.openDelivery = entry;
    }
    const delivery = entry;
    const events = chunk.changes.length;
    this.unackedEvents += events;
    this.sequence(() => {
      const wait = chunk.first ? this.beforeDeliver(chunk.transaction) : undefined;
      const start = () => this.startDelivery(delivery, events, () => deliverChunk(chunk), connection);
      if (wait) return wait.then(start);
      start();
      return undefined;
    });
    this.applyBackpressure(connection);
  }

  private dispatch(transaction: CapturedTransaction, connection: PgConnection): void {
    let entry = this.openDelivery;
    this.openDelivery = null;
    if (!entry) {
      entry = newDelivery();
      this.inFlight.push(entry);
    }
    const delivery = entry;
    this.recentXids.push(transaction.xid);
    if (this.recentXids.length > 1024) this.recentXids.splice(0, this.recentXids.length - 1024);
    const events = transaction.changes.length;
    this.unackedEvents += events;
    let blocker: Delivery | null = null;
    if (transaction.signals.length > 0 && this.resnapshots) {
      // The signal's own commit is not confirmed before its re-snapshots are in Kafka: a crash
      // during them sends the signal again.
      blocker = newDelivery();
      blocker.committed = true;
      blocker.outstanding = 1;
      this.inFlight.splice(this.inFlight.indexOf(delivery), 0, blocker);
    }
    this.sequence(() => {
      const wait = transaction.chunkedChanges === 0 ? this.beforeDeliver(transaction) : undefined;
      const start = () => {
        delivery.transaction = transaction;
        delivery.committed = true;
        this.startDelivery(delivery, events, () => this.options.deliver(transaction), connection);
      };
      if (wait) return wait.then(start);
      start();
      return undefined;
    });
    if (blocker) {
      const signalBlocker = blocker;
      this.sequence(() => this.requestResnapshots(transaction, signalBlocker, connection));
    }
    this.applyBackpressure(connection);
  }

  private startDelivery(entry: Delivery, events: number, send: () => Promise<void>, connection: PgConnection): void {
    const generation = this.generation;
    entry.outstanding++;
    send().then(
      () => {
        if (generation !== this.generation) return;
        entry.outstanding--;
        this.unackedEvents -= events;
        this.confirmDelivered(connection);
      },
      (error: unknown) => {
        if (generation !== this.generation) return;
        this.fail(error);
      },
    );
  }

  private applyBackpressure(connection: PgConnection): void {
    if (this.paused) return;
    if (
      this.inFlight.length >= (this.options.maxInFlightTransactions ?? 1000) ||
      this.unackedEvents >= this.maxInFlightEvents
    ) {
      this.paused = true;
      connection.stream.pause();
    }
  }

  /**
   * Runs a step now, or behind the asynchronous steps still running: deliveries, snapshot reads
   * and positions keep the order of the stream.
   */
  private sequence(step: () => Promise<void> | void): void {
    const generation = this.generation;
    const guarded = (): Promise<void> | void => (generation === this.generation ? step() : undefined);
    if (this.sequencer) {
      this.chain(this.sequencer.then(guarded), generation);
      return;
    }
    let result: Promise<void> | void;
    try {
      result = guarded();
    } catch (error) {
      this.fail(error);
      return;
    }
    if (result) this.chain(result, generation);
  }

  private chain(step: Promise<void>, generation: number): void {
    const next = step.catch((error: unknown) => {
      if (generation === this.generation) this.fail(error);
    });
    this.sequencer = next;
    void next.then(() => {
      if (this.sequencer === next) this.sequencer = null;
    });
  }

  /**
   * Before a transaction is delivered while a re-snapshot waits for its place: the reads go just
   * before the first commit at or after the snapshot's WAL position; an earlier transaction the
   * snapshot does not see (it was still finishing its commit) makes the snapshot be taken again.
   */
  private beforeDeliver(transaction: TransactionHeader): Promise<void> | undefined {
    const active = this.activeSnapshot;
    if (!active) return undefined;
    if (transaction.commitLsn >= active.snapshot.visibility.lsn) return this.emitReads();
    if (!active.snapshot.visibility.sees(transaction.xid)) return this.openSnapshot();
    return undefined;
  }

  /** A keepalive at or past the snapshot's position with no transaction open: the reads go here. */
  private atPosition(walEnd: bigint): Promise<void> | undefined {
    const active = this.activeSnapshot;
    if (!active || walEnd < active.snapshot.visibility.lsn) return undefined;
    return this.emitReads();
  }

  private async requestResnapshots(transaction: CapturedTransaction, blocker: Delivery, connection: PgConnection): Promise<void> {
    const reader = this.resnapshots;
    if (!reader) return;
    const { requests, rejected } = requestsOfSignals(transaction.signals, this.options.schema, this.options.tables);
    for (const signal of rejected) {
      this.options.logger.warn(signal, 're-snapshot signal refused');
      await reader.reject(signal);
    }
    const pending: ResnapshotRequest[] = [];
    for (const request of requests) {
      if (await reader.completed(request)) continue;
      pending.push(request);
    }
    blocker.outstanding = pending.length;
    for (const request of pending) this.resnapshotQueue.push({ request, blocker });
    if (pending.length === 0) this.confirmDelivered(connection);
    if (!this.activeSnapshot && this.resnapshotQueue.length > 0) await this.openSnapshot();
  }

  /** Opens the snapshot of the next request, until it sees every transaction already received. */
  private async openSnapshot(): Promise<void> {
    const reader = this.resnapshots;
    const next = this.resnapshotQueue[0];
    if (!reader || !next) return;
    for (let attempt = 0; ; attempt++) {
      const snapshot = await reader.open(next.request);
      const unseen = this.recentXids.filter((xid) => !snapshot.visibility.sees(xid));
      if (unseen.length === 0) {
        this.activeSnapshot = { snapshot, blocker: next.blocker };
        this.options.logger.info(
          { signal: next.request.signalId, table: next.request.table, position: formatLsn(snapshot.visibility.lsn) },
          're-snapshot taken; reads go at its position in the stream',
        );
        break;
      }
      if (attempt >= 100) throw new Error(`re-snapshot: transactions ${unseen.join(',')} stay invisible`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // On an idle database no commit reaches the position: ask PostgreSQL for keepalives.
    clearInterval(this.positionPoll);
    this.positionPoll = setInterval(() => {
      const client = this.replication;
      if (client) this.sendStatus((client as unknown as { connection: PgConnection }).connection, true, true);
    }, 200);
  }

  private async emitReads(): Promise<void> {
    const reader = this.resnapshots;
    const active = this.activeSnapshot;
    if (!reader || !active) return;
    clearInterval(this.positionPoll);
    const { request } = active.snapshot;
    try {
      const rows = await reader.read(active.snapshot);
      this.options.logger.info({ signal: request.signalId, table: request.table, rows }, 're-snapshot delivered');
    } catch (error) {
      await reader.failed(request, error);
      throw error;
    }
    this.activeSnapshot = null;
    this.resnapshotQueue.shift();
    active.blocker.outstanding--;
    const client = this.replication;
    if (client) this.confirmDelivered((client as unknown as { connection: PgConnection }).connection);
    if (this.resnapshotQueue.length > 0) await this.openSnapshot();
  }

  /** Confirms the end of the last transaction of the acknowledged prefix of the in-flight queue. */
  private confirmDelivered(connection: PgConnection): void {
    let last: CapturedTransaction | null = null;
    for (let head = this.inFlight[0]; head && head.committed && head.outstanding === 0; head = this.inFlight[0]) {
      this.inFlight.shift();
      if (!head.transaction) continue;
      if (last) this.options.onConfirmed?.(last.endLsn, last);
      last = head.transaction;
    }
    if (this.paused && this.inFlight.length < (this.options.maxInFlightTransactions ?? 1000) / 2 && this.unackedEvents < this.maxInFlightEvents / 2) {
      this.paused = false;
      connection.stream.resume();
    }
    if (!last) return;
    if (last.endLsn > this.confirmedLsn) this.confirmedLsn = last.endLsn;
    this.options.onConfirmed?.(this.confirmedLsn, last);
    this.sendStatus(connection, false);
  }

  private sendStatus(connection: PgConnection, force: boolean, replyRequested = false): void {
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
      connection.sendCopyFromChunk(standbyStatusUpdate(this.confirmedLsn, now, replyRequested));
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

/** One transaction (or a re-snapshot blocking its signal) on its way to Kafka. */
interface Delivery {
  /** Set at the commit; the confirmed position moves to its end once delivered. */
  transaction: CapturedTransaction | null;
  /** The commit arrived (or, for a re-snapshot, the signal was read). */
  committed: boolean;
  /** Deliveries (chunks, the commit, re-snapshots) not yet acknowledged. */
  outstanding: number;
}

function newDelivery(): Delivery {
  return { transaction: null, committed: false, outstanding: 0 };
}

interface PgConnection {
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void };
}
