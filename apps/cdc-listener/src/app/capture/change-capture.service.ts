import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { createLogger, METRICS_REGISTRY } from '@tributary/observability';
import { ClusterAdmin, KAFKA_CONNECTION, type KafkaConnection, TypedProducer } from '@tributary/kafka';
import { sessionTimeouts } from '@tributary/postgres';
import type { CdcListenerConfig } from '../../config';
import { AUDIT_TABLE } from '../../config';
import { AuditTrailWriter } from '../audit/audit-trail-writer';
import { migrateTradingSchema } from '../trading-schema/trading-database';
import { ChangePublisher } from './change-publisher';
import { ChangeStream } from './change-stream';
import { deliveryOf } from './delivery';
import { ClusterChangeRefused, SlotClusterLedger, SlotInUseElsewhere } from './slot-cluster';

export const CDC_CONFIG = Symbol('CDC_CONFIG');
export const CAPTURE_VERSION = '1.0.0';

export interface SlotState {
  readonly exists: boolean;
  readonly active: boolean;
  readonly lagBytes: number | null;
}

/** The Kafka clusters of capture: the one connected to, the one the slot's positions belong to, and why capture is held. */
export interface KafkaClusterState {
  /** The cluster this listener is connected to (null until it answered). */
  readonly connected: string | null;
  /** The cluster the slot's confirmed positions were delivered to (null while none is recorded). */
  readonly positions: string | null;
  /** Why capture does not start against the connected cluster (null when it does). */
  readonly refusal: string | null;
}

/**
 * The capture pipeline of the service: migrations, publication and slot, change topics, then the
 * change stream, restarted with backoff whenever PostgreSQL or Kafka fails it.
 */
@Injectable()
export class ChangeCaptureService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger: Logger;
  private stream?: ChangeStream;
  private running?: Promise<void>;
  private stopped = false;
  private slotTimer?: NodeJS.Timeout;
  private admin?: Client;
  private readonly publisher: ChangePublisher;
  private readonly audit: AuditTrailWriter | null;
  private readonly slotLag: Gauge;
  private readonly changes: Counter<'table'>;
  private readonly commitToKafka: Histogram;
  private readonly commitToConfirm: Histogram;
  private readonly slotCluster: Gauge<'slot' | 'cluster_id'>;
  private readonly ledger: SlotClusterLedger;
  /** The Kafka clusters of capture, for readiness. */
  kafkaCluster: KafkaClusterState = { connected: null, positions: null, refusal: null };
  /** Last slot state read from PostgreSQL (null until the first read). */
  slot: SlotState | null = null;

  constructor(
    @Inject(CDC_CONFIG) private readonly config: CdcListenerConfig,
    producer: TypedProducer,
    @Inject(KAFKA_CONNECTION) private readonly connection: KafkaConnection,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.logger = createLogger('cdc-listener', config.LOG_LEVEL, { instance: config.INSTANCE_ID });
    this.publisher = new ChangePublisher(producer, {
      topicPrefix: config.CDC_TOPIC_PREFIX,
      transactionTopic: config.CDC_TRANSACTION_TOPIC,
      tombstonesOnDelete: config.CDC_TOMBSTONES_ON_DELETE,
      validate: config.KAFKA_VALIDATE_EVENTS,
    });
    this.audit = config.CDC_AUDIT_LOG
      ? new AuditTrailWriter({ databaseUrl: config.DATABASE_URL, schema: config.CDC_SCHEMA, excludedTables: [AUDIT_TABLE], timeouts: config })
      : null;
    this.slotLag = new Gauge({
      name: 'tributary_cdc_slot_lag_bytes',
      help: 'WAL bytes between the current position and the confirmed position of the replication slot',
      registers: [registry],
    });
    this.changes = new Counter({
      name: 'tributary_cdc_row_changes_total',
      help: 'Row changes captured and acknowledged by Kafka',
      labelNames: ['table'],
      registers: [registry],
    });
    this.commitToKafka = new Histogram({
      name: 'tributary_cdc_commit_to_kafka_seconds',
      help: 'From the commit in PostgreSQL to Kafka acknowledging the transaction',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.commitToConfirm = new Histogram({
      name: 'tributary_cdc_commit_to_confirm_seconds',
      help: 'From the commit in PostgreSQL to its position confirmed to the slot (Kafka and the audit trail written)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.slotCluster = new Gauge({
      name: 'tributary_cdc_slot_kafka_cluster_info',
      help: 'Always 1, labelled with the ID of the Kafka cluster the replication slot\'s confirmed positions were delivered to',
      labelNames: ['slot', 'cluster_id'],
      registers: [registry],
    });
    this.ledger = new SlotClusterLedger(config.CDC_SCHEMA, config.CDC_SLOT_NAME);
  }

  /** Streaming now, and the last error of the stream if it is not. */
  get status(): { streaming: boolean; lastError: string | null } {
    return { streaming: this.stream?.streaming ?? false, lastError: this.stream?.lastError ?? 'not started' };
  }

  onApplicationBootstrap(): void {
    this.running = this.loop();
    this.slotTimer = setInterval(() => void this.readSlot(), 5_000);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.slotTimer);
    await this.stream?.stop();
    await this.running;
    await this.audit?.close();
    await this.admin?.end().catch(() => undefined);
  }

  /** Reads the slot's existence and lag (bytes of WAL it holds back). */
  async readSlot(): Promise<SlotState> {
    try {
      const admin = await this.adminClient();
      const result = await admin.query<{ active: boolean; lag: string | null }>(
        `SELECT active, (pg_current_wal_lsn() - confirmed_flush_lsn)::text AS lag FROM pg_replication_slots WHERE slot_name = $1`,
        [this.config.CDC_SLOT_NAME],
      );
      const row = result.rows[0];
      this.slot = row
        ? { exists: true, active: row.active, lagBytes: row.lag === null ? null : Number(row.lag) }
        : { exists: false, active: false, lagBytes: null };
      if (this.slot.lagBytes !== null) this.slotLag.set(this.slot.lagBytes);
      return this.slot;
    } catch (error) {
      await this.dropAdmin();
      throw error;
    }
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        if (this.config.CDC_RUN_MIGRATIONS) {
          const applied = await migrateTradingSchema(this.config.DATABASE_URL, this.config.CDC_SCHEMA, this.config);
          if (applied.length > 0) this.logger.info({ applied }, 'trading schema migrated');
        }
        const stream = this.newStream();
        const kafka = new ClusterAdmin(this.connection, { replicationFactor: this.config.KAFKA_REPLICATION_FACTOR });
        try {
          // The slot's positions hold only for the cluster that received what they confirm.
          const { clusterId } = await kafka.identity();
          await this.reconcileCluster(clusterId);
          // Topics before the slot: the initial snapshot is delivered while the slot is prepared.
          await kafka.ensure([this.publisher.transactionSpec, ...(await this.tableTopics())]);
          const admin = await this.adminClient();
          await stream.prepare(admin);
          await this.ledger.record(admin, clusterId);
          this.showClusters(clusterId, clusterId, null);
        } finally {
          await kafka.close();
        }
        if (this.stopped) return;
        this.stream = stream;
        attempt = 0;
        await stream.run();
      } catch (error) {
        if (this.stopped) return;
        attempt++;
        const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
        if (error instanceof ClusterChangeRefused || error instanceof SlotInUseElsewhere) {
          // Checked again at every retry: deleting the slot's row, or its other session ending, lets capture start.
          this.showClusters(error.recordedClusterId, error.connectedClusterId, error.message);
          this.logger.error({ retryInMs: delay, slot: error.slot, positionsCluster: error.recordedClusterId, connectedCluster: error.connectedClusterId }, error.message);
        } else {
          this.logger.warn({ err: error, retryInMs: delay }, 'change capture interrupted; retrying');
        }
        await this.dropAdmin();
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * Compares the cluster the slot's positions were delivered to with the connected one
   * (CDC_ON_CLUSTER_CHANGE): the same, none recorded or no slot yet go on; another one drops the slot
   * for a new initial snapshot (resnapshot) or throws (refuse).
   */
  private async reconcileCluster(clusterId: string): Promise<void> {
    const check = await this.ledger.check(await this.adminClient(), clusterId, this.config.CDC_ON_CLUSTER_CHANGE);
    this.kafkaCluster = { connected: clusterId, positions: check.recorded, refusal: null };
    if (check.outcome === 'resnapshot') {
      this.logger.warn(
        { slot: this.config.CDC_SLOT_NAME, positionsCluster: check.recorded, connectedCluster: clusterId, setting: 'CDC_ON_CLUSTER_CHANGE=resnapshot' },
        'the replication slot\'s positions were delivered to another Kafka cluster: slot dropped, the initial snapshot is taken again into this one',
      );
    } else if (check.outcome === 'unrecorded') {
      this.logger.info({ slot: this.config.CDC_SLOT_NAME, connectedCluster: clusterId }, 'recording the Kafka cluster of the replication slot\'s positions');
    }
  }

  /** Readiness details and the info metric: the cluster the slot's positions belong to, the connected one, and a refusal. */
  private showClusters(positions: string, connected: string, refusal: string | null): void {
    this.kafkaCluster = { connected, positions, refusal };
    this.slotCluster.reset();
    this.slotCluster.set({ slot: this.config.CDC_SLOT_NAME, cluster_id: positions }, 1);
  }

  private newStream(): ChangeStream {
    return new ChangeStream({
      databaseUrl: this.config.DATABASE_URL,
      schema: this.config.CDC_SCHEMA,
      tables: this.config.CDC_TABLES,
      replicaIdentityFull: this.config.CDC_REPLICA_IDENTITY_FULL,
      slotName: this.config.CDC_SLOT_NAME,
      publication: this.config.CDC_PUBLICATION,
      serverName: this.config.CDC_TOPIC_PREFIX,
      version: CAPTURE_VERSION,
      statusIntervalMs: this.config.CDC_STATUS_INTERVAL_MS,
      timeouts: this.config,
      logger: this.logger,
      initialSnapshot: this.config.CDC_SNAPSHOT_MODE === 'initial',
      signals: true,
      maxEventsInMemory: this.config.CDC_MAX_TX_EVENTS_IN_MEMORY,
      // Kafka and the audit trail together; the position is confirmed only after both.
      ...deliveryOf(this.publisher, this.audit, (transaction) => {
        this.commitToKafka.observe(Math.max(0, Date.now() - transaction.commitTimeMicros / 1000) / 1000);
      }),
      deliverSnapshot: (changes) => this.publisher.publishSnapshot(changes),
      onConfirmed: (_lsn, transaction) => {
        if (!transaction) return;
        this.commitToConfirm.observe(Math.max(0, Date.now() - transaction.commitTimeMicros / 1000) / 1000);
        for (const { data_collection, event_count } of transaction.end.data_collections ?? []) {
          this.changes.inc({ table: data_collection }, event_count);
        }
      },
    });
  }

  private async tableTopics() {
    const admin = await this.adminClient();
    const keys = await admin.query<{ table: string; columns: string[] }>(
      `SELECT c.relname AS table, array_agg(a.attname ORDER BY k.ordinality)::text[] AS columns
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ordinality)
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE i.indisprimary AND n.nspname = $1 AND c.relname = ANY($2)
        GROUP BY c.relname`,
      [this.config.CDC_SCHEMA, this.config.CDC_TABLES],
    );
    return keys.rows.map((row) => this.publisher.topicOf(this.config.CDC_SCHEMA, row.table, row.columns));
  }

  private async adminClient(): Promise<Client> {
    if (!this.admin) {
      // Exempt from statement_timeout: it creates the replication slot, which waits for every running
      // transaction of the server to end, and sets replica identity (a lock behind long transactions).
      const admin = new Client({ connectionString: this.config.DATABASE_URL, application_name: 'cdc-listener', ...sessionTimeouts(this.config, { statement: true }) });
      admin.on('error', () => void this.dropAdmin());
      this.admin = admin;
      try {
        await admin.connect();
      } catch (error) {
        this.admin = undefined;
        throw error;
      }
    }
    return this.admin;
  }

  private async dropAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.end().catch(() => undefined);
  }
}

