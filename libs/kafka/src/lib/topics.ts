import type { Logger } from 'pino';
import { ClusterAdmin, type TopicConfig } from './cluster-admin';
import type { KafkaConnection } from './kafka-connection';
import { dlqTopicOf, kafkaTopicConfig, topicSpec, type TopicSpec } from '@tributary/contracts';

export interface EnsureTopicsOptions {
  /** Replication factor of created topics (`KAFKA_REPLICATION_FACTOR`); default 1. */
  readonly replicationFactor?: number;
  readonly logger?: Logger;
}

export interface EnsureTopicsResult {
  /** Topics this call created. */
  readonly created: string[];
  /** Topics that were already there (or were created by someone else meanwhile). */
  readonly existing: string[];
}

/** The topic definition of a catalog entry: partitions, replication and the catalog's configs. */
export function topicConfigOf(spec: TopicSpec, replicationFactor = 1): TopicConfig {
  return {
    topic: spec.topic,
    numPartitions: spec.partitions,
    replicationFactor,
    configEntries: kafkaTopicConfig(spec),
  };
}

const WEEK_MS = 7 * 24 * 3_600_000;

/**
 * The dead-letter topic of `topic`: the catalog's DLQ spec when the catalog knows the topic, else one
 * partition kept a week, never compacted, so no failure is lost before someone looks at it.
 */
export function deadLetterTopicConfig(topic: string, replicationFactor = 1): TopicConfig {
  const spec = topicSpec(dlqTopicOf(topic));
  if (spec !== undefined) return topicConfigOf(spec, replicationFactor);
  return {
    topic: dlqTopicOf(topic),
    numPartitions: 1,
    replicationFactor,
    configEntries: [
      { name: 'retention.ms', value: String(WEEK_MS) },
      { name: 'cleanup.policy', value: 'delete' },
    ],
  };
}

/**
 * Creates the catalog topics of `specs` that do not exist yet, with the catalog's partitions,
 * retention, cleanup policy and compression, over a short-lived admin client of the connection;
 * existing topics are left as they are (partition counts are never changed behind the keys'
 * backs). Idempotent, and safe when several services start at once: a topic another instance
 * created in between counts as existing.
 */
export async function ensureTopics(
  connection: KafkaConnection,
  specs: readonly TopicSpec[],
  options: EnsureTopicsOptions = {},
): Promise<EnsureTopicsResult> {
  const admin = new ClusterAdmin(connection, options);
  try {
    return await admin.ensure(specs);
  } finally {
    await admin.close();
  }
}

/**
 * Creates those of `configs` that do not exist yet (with their partitions, replication and
 * configuration), over the connection's own admin client. A topic someone else created
 * meanwhile counts as existing. Returns the topics this call created.
 */
export async function createMissingTopics(connection: KafkaConnection, configs: readonly TopicConfig[]): Promise<string[]> {
  if (configs.length === 0) return [];
  const admin = new ClusterAdmin(connection);
  try {
    return (await admin.ensureConfigs(configs)).created;
  } finally {
    await admin.close();
  }
}
