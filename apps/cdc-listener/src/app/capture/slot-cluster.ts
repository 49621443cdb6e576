import type { Client } from 'pg';
import { quoteIdentifier } from '../trading-schema/trading-migrations';

/** What a start does when the slot's positions were delivered to another Kafka cluster (CDC_ON_CLUSTER_CHANGE). */
export type ClusterChangePolicy = 'resnapshot' | 'refuse';

/** The table (migration SlotKafkaCluster) recording which Kafka cluster each slot's positions were delivered to. */
export const SLOT_CLUSTERS_TABLE = 'cdc_slot_clusters';

/**
 * What a start found, before capture begins:
 * - `new-slot`: the slot does not exist; it is created (with the initial snapshot) for this cluster;
 * - `unrecorded`: the slot exists and no cluster is recorded for it (recorded from now on);
 * - `same-cluster`: the slot's positions belong to the cluster the listener is connected to;
 * - `resnapshot`: they belong to another cluster, and the slot was dropped so that the start takes it
 *   again (and the initial snapshot with it) for this cluster.
 * Another cluster under `refuse` is not an outcome but a {@link ClusterChangeRefused} error.
 */
export type SlotClusterOutcome = 'new-slot' | 'unrecorded' | 'same-cluster' | 'resnapshot';

export interface SlotClusterCheck {
  readonly outcome: SlotClusterOutcome;
  /** The cluster recorded for the slot before this start (null when none was). */
  readonly recorded: string | null;
}

/** The slot's positions belong to another Kafka cluster and CDC_ON_CLUSTER_CHANGE=refuse: capture stays stopped. */
export class ClusterChangeRefused extends Error {
  constructor(
    readonly slot: string,
    readonly recordedClusterId: string,
    readonly connectedClusterId: string,
    ledger: string,
  ) {
    super(
      `replication slot ${slot} holds positions delivered to Kafka cluster ${recordedClusterId}, but this listener is ` +
        `connected to Kafka cluster ${connectedClusterId}; CDC_ON_CLUSTER_CHANGE=refuse keeps capture stopped ` +
        `(set CDC_ON_CLUSTER_CHANGE=resnapshot to take the initial snapshot again into ${connectedClusterId}, ` +
        `or delete the slot's row from ${ledger} to resume from the slot)`,
    );
    this.name = 'ClusterChangeRefused';
  }
}

/** The slot's positions belong to another Kafka cluster, but another listener streams the slot now: it cannot be dropped. */
export class SlotInUseElsewhere extends Error {
  constructor(
    readonly slot: string,
    readonly recordedClusterId: string,
    readonly connectedClusterId: string,
  ) {
    super(
      `replication slot ${slot} holds positions delivered to Kafka cluster ${recordedClusterId} and is being streamed ` +
        `by another session; this listener (Kafka cluster ${connectedClusterId}) does not take it over. Two stacks ` +
        `must not share one slot: give each its own CDC_SLOT_NAME or its own database`,
    );
    this.name = 'SlotInUseElsewhere';
  }
}

/**
 * Which Kafka cluster each replication slot's positions were delivered to, in
 * `<schema>.cdc_slot_clusters`. A slot confirms positions to PostgreSQL only after Kafka acknowledged
 * them, so its positions hold only for the cluster that acknowledged them: against a cluster with
 * another ID (a new local stack, a rebuilt cluster) resuming from the slot would leave that cluster
 * without everything captured before. One class for the table, as for every table of the schema.
 */
export class SlotClusterLedger {
  private readonly table: string;

  constructor(
    readonly schema: string,
    readonly slotName: string,
  ) {
    this.table = `${quoteIdentifier(schema)}.${SLOT_CLUSTERS_TABLE}`;
  }

  /** The table's qualified name, as operators write it. */
  get tableName(): string {
    return `${this.schema}.${SLOT_CLUSTERS_TABLE}`;
  }

  /** The cluster recorded for the slot, or null. */
  async recorded(client: Client): Promise<string | null> {
    await this.requireTable(client);
    const result = await client.query<{ kafka_cluster_id: string }>(
      `SELECT kafka_cluster_id FROM ${this.table} WHERE slot_name = $1`,
      [this.slotName],
    );
    return result.rows[0]?.kafka_cluster_id ?? null;
  }

  /** Records that the slot's positions are delivered to `clusterId` from now on. */
  async record(client: Client, clusterId: string): Promise<void> {
    await this.requireTable(client);
    await client.query(
      `INSERT INTO ${this.table} (slot_name, kafka_cluster_id) VALUES ($1, $2)
         ON CONFLICT (slot_name) DO UPDATE SET kafka_cluster_id = EXCLUDED.kafka_cluster_id, recorded_at = now()
         WHERE ${this.table}.kafka_cluster_id IS DISTINCT FROM EXCLUDED.kafka_cluster_id`,
      [this.slotName, clusterId],
    );
  }

  /**
   * Compares the slot's recorded cluster with `clusterId`, the cluster this start is connected to.
   * Another cluster under `refuse` throws {@link ClusterChangeRefused}; under `resnapshot` the slot
   * is dropped (only while no session streams it), so the start creates it again and takes the
   * initial snapshot into the new cluster. Call {@link record} once the slot is prepared.
   */
  async check(client: Client, clusterId: string, policy: ClusterChangePolicy): Promise<SlotClusterCheck> {
    const recorded = await this.recorded(client);
    const slot = await client.query<{ active: boolean }>(
      'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
      [this.slotName],
    );
    if (slot.rowCount === 0) return { outcome: 'new-slot', recorded };
    if (recorded === null) return { outcome: 'unrecorded', recorded };
    if (recorded === clusterId) return { outcome: 'same-cluster', recorded };
    if (policy === 'refuse')
      throw new ClusterChangeRefused(this.slotName, recorded, clusterId, this.tableName);
    const dropped = await client.query(
      'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active',
      [this.slotName],
    );
    if (dropped.rowCount === 0) {
      // A session streams it (another listener, or this one's previous process not yet gone): retried later.
      const still = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
        this.slotName,
      ]);
      if ((still.rowCount ?? 0) > 0) throw new SlotInUseElsewhere(this.slotName, recorded, clusterId);
    }
    return { outcome: 'resnapshot', recorded };
  }

  private async requireTable(client: Client): Promise<void> {
    const present = await client.query<{ present: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS present',
      [this.table],
    );
    if (!present.rows[0]?.present) {
      throw new Error(
        `${this.tableName} is missing: apply the trading schema migrations (CDC_RUN_MIGRATIONS=true)`,
      );
    }
  }
}
