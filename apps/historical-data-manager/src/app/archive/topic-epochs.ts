import type { DataSource, EntityManager } from 'typeorm';
import { quoteIdentifier } from './catalog-migrations';
import type { TopicIdentity } from './topic-identity-check';

/** Runs one SQL statement and returns its rows (a pg pool, a TypeORM data source or transaction). */
export type CatalogQuery = (sql: string, parameters: unknown[]) => Promise<unknown[]>;

/** The epoch a source topic is archived in now, with the identity its offsets belong to (null: not recorded yet). */
export interface CurrentEpoch {
  topic: string;
  epoch: number;
  identity: TopicIdentity | null;
}

/** An epoch as `GET /v1/datasets/:dataset` lists it. */
export interface EpochListing {
  epoch: number;
  kafkaClusterId: string | null;
  kafkaTopicId: string | null;
  startedAt: string;
  endedAt: string | null;
  startedBy: string;
  /** Per source partition, the offsets archived in this epoch: `[firstOffset, nextOffset)`. */
  partitions: { partition: number; firstOffset: string | null; nextOffset: string }[];
}

/** A decision that no longer applies: the topic moved on to another epoch or identity meanwhile. */
export class EpochConflictError extends Error {}

/**
 * The archive catalog's epochs (`topic_epochs`) and the archived positions of each
 * (`archived_offsets`): which Kafka cluster and topic the offsets of each epoch belong to.
 */
export class TopicEpochs {
  constructor(
    private readonly catalog: DataSource,
    private readonly schema: string,
  ) {}

  async current(topic: string, query: CatalogQuery = this.run(this.catalog)): Promise<CurrentEpoch | null> {
    const [row] = (await query(
      `SELECT epoch, kafka_cluster_id, kafka_topic_id FROM ${this.table('topic_epochs')}
        WHERE source_topic = $1 ORDER BY epoch DESC LIMIT 1`,
      [topic],
    )) as { epoch: number; kafka_cluster_id: string | null; kafka_topic_id: string | null }[];
    if (row === undefined) return null;
    const identity =
      row.kafka_cluster_id === null || row.kafka_topic_id === null
        ? null
        : { clusterId: row.kafka_cluster_id, topicId: row.kafka_topic_id };
    return { topic, epoch: row.epoch, identity };
  }

  /** The next offset not archived of each partition of `topic` in `epoch`. */
  async positions(topic: string, epoch: number): Promise<Map<number, bigint>> {
    const rows = (await this.catalog.query(
      `SELECT source_partition, next_offset FROM ${this.table('archived_offsets')} WHERE source_topic = $1 AND epoch = $2`,
      [topic, epoch],
    )) as { source_partition: number; next_offset: string }[];
    return new Map(rows.map((r) => [r.source_partition, BigInt(r.next_offset)]));
  }

  /** The first epoch of a topic never archived before: it belongs to the cluster's identity at once. */
  async openFirst(topic: string, identity: TopicIdentity): Promise<CurrentEpoch> {
    await this.catalog.query(
      `INSERT INTO ${this.table('topic_epochs')} (source_topic, epoch, kafka_cluster_id, kafka_topic_id, started_by)
       VALUES ($1, 1, $2, $3, 'first start') ON CONFLICT DO NOTHING`,
      [topic, identity.clusterId, identity.topicId],
    );
    return (await this.current(topic)) as CurrentEpoch;
  }

  /**
   * A catalog made before identities were recorded, whose positions fit the log: its epoch and its
   * rows take the cluster's identity (only where none is recorded yet).
   */
  async adopt(topic: string, epoch: number, identity: TopicIdentity): Promise<void> {
    await this.catalog.transaction(async (tx) => {
      const params = [topic, epoch, identity.clusterId, identity.topicId];
      await tx.query(
        `UPDATE ${this.table('topic_epochs')} SET kafka_cluster_id = $3, kafka_topic_id = $4
          WHERE source_topic = $1 AND epoch = $2 AND kafka_cluster_id IS NULL`,
        params,
      );
      await tx.query(
        `UPDATE ${this.table('archived_offsets')} SET kafka_cluster_id = $3, kafka_topic_id = $4
          WHERE source_topic = $1 AND epoch = $2 AND kafka_cluster_id IS NULL`,
        params,
      );
      await tx.query(
        `UPDATE ${this.table('files')} SET kafka_cluster_id = $3, kafka_topic_id = $4
          WHERE source_topic = $1 AND epoch = $2 AND kafka_cluster_id IS NULL`,
        params,
      );
    });
  }

  /**
   * Ends the current epoch `expected` of `topic` and opens the next one with `identity`: the topic
   * is archived again from the start of its log, into new files; the old epoch's files stay.
   */
  async openNext(
    topic: string,
    expected: number,
    identity: TopicIdentity,
    by: string,
  ): Promise<CurrentEpoch> {
    return this.catalog.transaction(async (tx) => {
      const current = await this.lockCurrent(tx, topic);
      if (current?.epoch !== expected) {
        throw new EpochConflictError(`${topic} is in epoch ${current?.epoch ?? 'none'} now, not ${expected}`);
      }
      await tx.query(
        `UPDATE ${this.table('topic_epochs')} SET ended_at = now() WHERE source_topic = $1 AND epoch = $2`,
        [topic, expected],
      );
      await tx.query(
        `INSERT INTO ${this.table('topic_epochs')} (source_topic, epoch, kafka_cluster_id, kafka_topic_id, started_by)
         VALUES ($1, $2, $3, $4, $5)`,
        [topic, expected + 1, identity.clusterId, identity.topicId, by],
      );
      return { topic, epoch: expected + 1, identity };
    });
  }

  /**
   * After a verified restore: the current epoch `expected` of `topic` (its archived positions)
   * belongs to `identity` from now on. Files keep the identity they were written from.
   */
  async reattach(topic: string, expected: number, identity: TopicIdentity): Promise<CurrentEpoch> {
    return this.catalog.transaction(async (tx) => {
      const current = await this.lockCurrent(tx, topic);
      if (current?.epoch !== expected) {
        throw new EpochConflictError(`${topic} is in epoch ${current?.epoch ?? 'none'} now, not ${expected}`);
      }
      const params = [topic, expected, identity.clusterId, identity.topicId];
      await tx.query(
        `UPDATE ${this.table('topic_epochs')} SET kafka_cluster_id = $3, kafka_topic_id = $4 WHERE source_topic = $1 AND epoch = $2`,
        params,
      );
      await tx.query(
        `UPDATE ${this.table('archived_offsets')} SET kafka_cluster_id = $3, kafka_topic_id = $4 WHERE source_topic = $1 AND epoch = $2`,
        params,
      );
      return { topic, epoch: expected, identity };
    });
  }

  private async lockCurrent(tx: EntityManager, topic: string): Promise<CurrentEpoch | null> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`${this.schema}.topic_epochs.${topic}`]);
    return this.current(topic, this.run(tx));
  }

  private run(runner: DataSource | EntityManager): CatalogQuery {
    return (sql, parameters) => runner.query(sql, parameters) as Promise<unknown[]>;
  }

  private table(name: string): string {
    return `${quoteIdentifier(this.schema)}.${name}`;
  }
}

/** Every epoch of `topics` (all topics when null), oldest first, with identities and offset ranges. */
export async function listEpochs(
  query: CatalogQuery,
  schema: string,
  topics: readonly string[] | null,
): Promise<Map<string, EpochListing[]>> {
  const s = quoteIdentifier(schema);
  const rows = (await query(
    `SELECT e.source_topic, e.epoch, e.kafka_cluster_id, e.kafka_topic_id, e.started_at, e.ended_at, e.started_by,
            coalesce(json_agg(json_build_object('partition', o.source_partition, 'firstOffset', o.first_offset::text,
                                                'nextOffset', o.next_offset::text) ORDER BY o.source_partition)
                     FILTER (WHERE o.source_partition IS NOT NULL), '[]') AS partitions
       FROM ${s}.topic_epochs e
       LEFT JOIN ${s}.archived_offsets o ON o.source_topic = e.source_topic AND o.epoch = e.epoch
      WHERE $1::text[] IS NULL OR e.source_topic = ANY($1::text[])
      GROUP BY e.source_topic, e.epoch ORDER BY e.source_topic, e.epoch`,
    [topics],
  )) as {
    source_topic: string;
    epoch: number;
    kafka_cluster_id: string | null;
    kafka_topic_id: string | null;
    started_at: Date;
    ended_at: Date | null;
    started_by: string;
    partitions: EpochListing['partitions'];
  }[];
  const result = new Map<string, EpochListing[]>();
  for (const row of rows) {
    const list = result.get(row.source_topic) ?? [];
    list.push({
      epoch: row.epoch,
      kafkaClusterId: row.kafka_cluster_id,
      kafkaTopicId: row.kafka_topic_id,
      startedAt: new Date(row.started_at).toISOString(),
      endedAt: row.ended_at === null ? null : new Date(row.ended_at).toISOString(),
      startedBy: row.started_by,
      partitions: row.partitions,
    });
    result.set(row.source_topic, list);
  }
  return result;
}
