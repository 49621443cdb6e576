import {
  type Admin,
  type ITopicConfig,
  Kafka,
  KafkaJSAggregateError,
  type KafkaJSProtocolError,
} from 'kafkajs';
import type { Logger } from 'pino';
import { ClusterAdmin } from './cluster-admin';
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

function isAlreadyExists(error: unknown): boolean {
  return (error as KafkaJSProtocolError | undefined)?.type === 'TOPIC_ALREADY_EXISTS';
}

/** Answers about a topic the controller created but the broker does not know or lead yet. */
const NOT_YET_KNOWN = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
]);

/**
 * `admin.createTopics`, then waits until every partition of the topics has a leader. kafkajs's own
 * `waitForLeaders` gives up on the first metadata answer that does not know the topic yet, which a
 * KRaft broker gives for a moment after creating it when the machine is busy; here that answer
 * means "not yet" until `timeout` (default 30 s) has passed. Resolves false when every topic
 * already existed, as kafkajs does.
 */
export async function createTopicsWithLeaders(
  admin: Admin,
  options: Omit<Parameters<Admin['createTopics']>[0], 'waitForLeaders'>,
): Promise<boolean> {
  const created = await admin.createTopics({ ...options, waitForLeaders: false });
  const topics = options.topics.map((topic) => topic.topic);
  const deadline = Date.now() + (options.timeout ?? 30_000);
  for (let delay = 50; ; delay = Math.min(1_000, delay * 2)) {
    let waitingFor: string;
    try {
      const { topics: known } = await admin.fetchTopicMetadata({ topics });
      const leaderless = known.filter(
        (topic) =>
          topic.partitions.length === 0 || topic.partitions.some((partition) => partition.leader < 0),
      );
      // (Not fetchTopicOffsets to probe the leaders: kafkajs's admin would keep refreshing the
      // metadata of the topics forever after, and fail every later call once one is deleted.)
      if (leaderless.length === 0) return created;
      waitingFor = `partition leaders of ${leaderless.map((topic) => topic.name).join(', ')}`;
    } catch (error) {
      if (!NOT_YET_KNOWN.has((error as KafkaJSProtocolError).type)) throw error;
      waitingFor = `metadata of ${topics.join(', ')} (${(error as Error).message})`;
    }
    if (Date.now() + delay > deadline)
      throw new Error(`created ${topics.join(', ')} but timed out waiting for ${waitingFor}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/**
 * `admin.fetchTopicOffsets(topic)`, retried while the topic's partitions have no leader answering
 * for them yet (a topic created moments ago on a busy KRaft broker answers NOT_LEADER for a while,
 * and kafkajs gives up on that at once), for up to `timeoutMs`.
 */
export async function fetchTopicOffsetsOnceLed(
  admin: Admin,
  topic: string,
  timeoutMs = 30_000,
): Promise<Awaited<ReturnType<Admin['fetchTopicOffsets']>>> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(1_000, delay * 2)) {
    try {
      return await admin.fetchTopicOffsets(topic);
    } catch (error) {
      if (!NOT_YET_KNOWN.has((error as KafkaJSProtocolError).type) || Date.now() + delay > deadline)
        throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** The kafkajs topic definition of a catalog entry: partitions, replication and the catalog's configs. */
export function topicConfigOf(spec: TopicSpec, replicationFactor = 1): ITopicConfig {
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
export function deadLetterTopicConfig(topic: string, replicationFactor = 1): ITopicConfig {
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
 * Creates the topics of `specs` that do not exist yet, with the catalog's partitions, retention,
 * cleanup policy and compression; existing topics are left as they are (partition counts are
 * never changed behind the keys' backs). Idempotent, and safe when several services start at once:
 * a topic another instance created in between counts as existing.
 */
export class TopicAdmin {
  private connected?: Promise<void>;

  constructor(
    private readonly admin: Admin,
    private readonly options: EnsureTopicsOptions = {},
  ) {}

  static of(kafka: Kafka, options: EnsureTopicsOptions = {}): TopicAdmin {
    return new TopicAdmin(kafka.admin(), options);
  }

  ensure(specs: readonly TopicSpec[]): Promise<EnsureTopicsResult> {
    const replicationFactor = this.options.replicationFactor ?? 1;
    return this.ensureConfigs(specs.map((spec) => topicConfigOf(spec, replicationFactor)));
  }

  /** {@link ensure} for topic definitions that are not catalog entries. */
  async ensureConfigs(configs: readonly ITopicConfig[]): Promise<EnsureTopicsResult> {
    await this.connect();
    const unique = new Map<string, ITopicConfig>();
    for (const config of configs) unique.set(config.topic, config);

    const present = new Set(await this.admin.listTopics());
    const missing = [...unique.values()].filter((config) => !present.has(config.topic));
    const existing = [...unique.keys()].filter((topic) => present.has(topic));
    if (missing.length === 0) return { created: [], existing };

    let racedTopics = new Set<string>();
    try {
      const createdAll = await createTopicsWithLeaders(this.admin, { topics: missing });
      if (!createdAll) racedTopics = new Set(missing.map((config) => config.topic));
    } catch (error) {
      if (!(error instanceof KafkaJSAggregateError)) throw error;
      const failures = error.errors.filter((failure) => !isAlreadyExists(failure));
      if (failures.length > 0) throw error;
      racedTopics = new Set(
        error.errors.map((failure) => (failure as KafkaJSProtocolError & { topic?: string }).topic ?? ''),
      );
    }
    const created = missing.map((config) => config.topic).filter((topic) => !racedTopics.has(topic));
    if (created.length > 0) this.options.logger?.info({ topics: created }, 'created Kafka topics');
    return { created, existing: [...existing, ...racedTopics].filter((topic) => topic !== '') };
  }

  async close(): Promise<void> {
    if (this.connected === undefined) return;
    this.connected = undefined;
    await this.admin.disconnect();
  }

  private async connect(): Promise<void> {
    this.connected ??= this.admin.connect().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    await this.connected;
  }
}

/**
 * One-shot {@link TopicAdmin.ensure} with a short-lived admin client of `kafka`, or with a
 * connected `Admin` the caller keeps.
 */
export async function ensureTopics(
  client: Kafka | Admin,
  specs: readonly TopicSpec[],
  options: EnsureTopicsOptions = {},
): Promise<EnsureTopicsResult> {
  if (client instanceof Kafka) {
    const topics = TopicAdmin.of(client, options);
    try {
      return await topics.ensure(specs);
    } finally {
      await topics.close();
    }
  }
  return new TopicAdmin(client, options).ensure(specs);
}

/**
 * Creates those of `configs` that do not exist yet (with their partitions, replication and
 * configuration), over the connection's own admin client. A topic someone else created
 * meanwhile counts as existing. Returns the topics this call created.
 */
export async function createMissingTopics(connection: KafkaConnection, configs: readonly ITopicConfig[]): Promise<string[]> {
  if (configs.length === 0) return [];
  const admin = new ClusterAdmin(connection);
  try {
    return (await admin.ensureConfigs(configs)).created;
  } finally {
    await admin.close();
  }
}
