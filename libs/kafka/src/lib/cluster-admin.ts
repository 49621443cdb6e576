import { pbkdf2Sync, randomBytes } from 'node:crypto';
import {
  type Acl,
  type AclFilter,
  AclOperations,
  AclPermissionTypes,
  Admin,
  alterUserScramCredentialsV0,
  Consumer,
  ResourcePatternTypes,
  ResourceTypes,
  ScramMechanisms,
} from '@platformatic/kafka';
import type { Logger } from 'pino';
import { type KafkaAcl, kafkaTopicConfig, type KafkaOperation, type KafkaResourceType, type TopicSpec } from '@tributary/contracts';
import { GroupSession } from './consumer/group-session';
import { applyBrokerAddress, clientOptionsOf, type KafkaConnection } from './kafka-connection';
import { callApi } from './protocol-call';

const TOPIC_ALREADY_EXISTS = 36;
const TOPIC_RESOURCE = 2;
const SET = 0;
/** configSource 1 (DYNAMIC_TOPIC_CONFIG): a value set on the topic itself rather than inherited. */
const TOPIC_CONFIG_SOURCE = 1;

/** A topic's partition count and configuration as the cluster has them. */
export interface TopicDescription {
  readonly partitions: number;
  /** Every config with its effective value. */
  readonly configs: ReadonlyMap<string, string>;
  /** Configs set on the topic itself (not inherited from the broker's defaults). */
  readonly overrides: ReadonlyMap<string, string>;
}
function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
}

const EARLIEST = -2n;
const LATEST = -1n;

/** A partition's first offset still in the log and the offset its next record will get. */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: string;
  readonly high: string;
}

/** A topic to create: name, partitions, replication and the configs set on it. */
export interface TopicConfig {
  readonly topic: string;
  readonly numPartitions?: number;
  readonly replicationFactor?: number;
  readonly configEntries?: readonly { readonly name: string; readonly value: string }[];
}

export interface ClusterAdminOptions {
  /** Replication factor of created topics (`KAFKA_REPLICATION_FACTOR`); default 1. */
  readonly replicationFactor?: number;
  readonly logger?: Logger;
}

/** True when a @platformatic/kafka error (or one nested in it) carries the Kafka error code. */
export function hasKafkaErrorCode(error: unknown, code: number): boolean {
  const seen = new Set<unknown>();
  const visit = (current: unknown): boolean => {
    if (typeof current !== 'object' || current === null || seen.has(current)) return false;
    seen.add(current);
    if ((current as { apiCode?: unknown }).apiCode === code) return true;
    const errors = (current as { errors?: unknown }).errors;
    return [...(Array.isArray(errors) ? errors : []), (current as { cause?: unknown }).cause].some(visit);
  };
  return visit(error);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const ACL_OPERATIONS: Readonly<Record<KafkaOperation, number>> = {
  Read: AclOperations.READ,
  Write: AclOperations.WRITE,
  Create: AclOperations.CREATE,
  Delete: AclOperations.DELETE,
  Alter: AclOperations.ALTER,
  Describe: AclOperations.DESCRIBE,
  AlterConfigs: AclOperations.ALTER_CONFIGS,
  DescribeConfigs: AclOperations.DESCRIBE_CONFIGS,
  IdempotentWrite: AclOperations.IDEMPOTENT_WRITE,
};
const ACL_RESOURCE_TYPES: Readonly<Record<KafkaResourceType, number>> = {
  topic: ResourceTypes.TOPIC,
  group: ResourceTypes.GROUP,
  transactionalId: ResourceTypes.TRANSACTIONAL_ID,
  cluster: ResourceTypes.CLUSTER,
};
/** The one cluster resource's name in ACLs. */
const CLUSTER_RESOURCE_NAME = 'kafka-cluster';

/** Kafka's allow entries of a principal for its rules: one entry per resource and operation, from any host. */
export function aclEntriesOf(principal: string, rules: readonly KafkaAcl[]): Acl[] {
  return rules.flatMap(({ resource, operations }) =>
    operations.map((operation) => ({
      resourceType: ACL_RESOURCE_TYPES[resource.type] as Acl['resourceType'],
      resourceName: resource.type === 'cluster' ? CLUSTER_RESOURCE_NAME : resource.name,
      resourcePatternType: (resource.patternType === 'prefix' ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL) as Acl['resourcePatternType'],
      principal,
      host: '*',
      operation: ACL_OPERATIONS[operation] as Acl['operation'],
      permissionType: AclPermissionTypes.ALLOW as Acl['permissionType'],
    })),
  );
}

const aclKey = (acl: Acl): string =>
  [acl.resourceType, acl.resourcePatternType, acl.resourceName, acl.principal, acl.host, acl.operation, acl.permissionType].join('\u0000');

/** What `setAcls` changed. */
export interface AclChanges {
  readonly created: number;
  readonly deleted: number;
  readonly unchanged: number;
}

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
const SCRAM: Readonly<Record<ScramMechanism, { code: number; hash: string; bytes: number }>> = {
  'SCRAM-SHA-256': { code: ScramMechanisms.SCRAM_SHA_256, hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { code: ScramMechanisms.SCRAM_SHA_512, hash: 'sha512', bytes: 64 },
};
/** The brokers' minimum for SCRAM-SHA-256/512. */
const SCRAM_ITERATIONS = 4096;

/** The all-zero UUID Kafka answers for a topic it has no ID for. */
const NULL_TOPIC_ID = '00000000-0000-0000-0000-000000000000';

/** Who the data came from: the cluster's ID and each topic's ID. */
export interface ClusterIdentity {
  readonly clusterId: string;
  readonly topicIds: ReadonlyMap<string, string>;
}

/**
 * The cluster administration a service does, over @platformatic/kafka's admin client on the
 * service's connection: create missing topics (and wait until every partition has a leader, so
 * the first produce does not meet NOT_LEADER), read partitions' offsets, delete records. One
 * client, opened on first use and closed by `close()`.
 */
export class ClusterAdmin {
  private readonly admin: Admin;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly options: ClusterAdminOptions = {},
  ) {
    this.admin = applyBrokerAddress(new Admin(clientOptionsOf(connection)), connection);
  }

  /** Creates the catalog topics of `specs` that are missing, with the catalog's partitions and configs. */
  ensure(specs: readonly TopicSpec[]): Promise<{ created: string[]; existing: string[] }> {
    const replicationFactor = this.options.replicationFactor ?? 1;
    return this.ensureConfigs(
      specs.map((spec) => ({ topic: spec.topic, numPartitions: spec.partitions, replicationFactor, configEntries: kafkaTopicConfig(spec) })),
    );
  }

  /**
   * Creates those of `configs` that do not exist yet; existing ones are left as they are
   * (partition counts are never changed behind the keys' backs). A topic someone else created
   * meanwhile counts as existing. Resolves once every partition of the created topics has a leader.
   */
  async ensureConfigs(configs: readonly TopicConfig[]): Promise<{ created: string[]; existing: string[] }> {
    const unique = new Map(configs.map((config) => [config.topic, config]));
    const present = new Set(await this.admin.listTopics());
    const created: string[] = [];
    const existing = [...unique.keys()].filter((topic) => present.has(topic));
    for (const config of unique.values()) {
      if (present.has(config.topic)) continue;
      try {
        await this.admin.createTopics({
          topics: [config.topic],
          partitions: config.numPartitions ?? 1,
          replicas: config.replicationFactor ?? this.options.replicationFactor ?? 1,
          configs: (config.configEntries ?? []).map(({ name, value }) => ({ name, value })),
        });
        created.push(config.topic);
      } catch (error) {
        if (!hasKafkaErrorCode(error, TOPIC_ALREADY_EXISTS)) throw error;
        existing.push(config.topic);
      }
    }
    if (created.length > 0) {
      await this.waitForLeaders(created);
      this.options.logger?.info({ topics: created }, 'created Kafka topics');
    }
    return { created, existing };
  }

  /** Deletes those of `topics` that exist (their records with them). */
  async deleteTopics(topics: readonly string[]): Promise<void> {
    const present = new Set(await this.admin.listTopics());
    const existing = topics.filter((topic) => present.has(topic));
    if (existing.length > 0) await this.admin.deleteTopics({ topics: existing });
  }

  /** A group's committed offsets (the next offset to read) per topic and partition; partitions without a commit are absent. */
  async committedOffsets(groupId: string, topics: readonly string[]): Promise<Map<string, Map<number, bigint>>> {
    const assignment = new Map<string, number[]>();
    for (const topic of topics) assignment.set(topic, Array.from({ length: await this.partitionCount(topic) }, (_, partition) => partition));
    const entries = await this.withGroup(groupId, (session) => session.committedEntries(assignment));
    const result = new Map<string, Map<number, bigint>>();
    for (const [key, { offset }] of entries) {
      if (offset === undefined) continue;
      const at = key.lastIndexOf(':');
      const topic = key.slice(0, at);
      const partitions = result.get(topic) ?? new Map<number, bigint>();
      partitions.set(Number(key.slice(at + 1)), offset);
      result.set(topic, partitions);
    }
    return result;
  }

  /**
   * Sets a group's committed offsets without joining it (the group must have no active member):
   * where its consumers start next time.
   */
  async commitOffsets(groupId: string, offsets: ReadonlyMap<string, ReadonlyMap<number, bigint>>): Promise<void> {
    const entries = [...offsets].flatMap(([topic, partitions]) => [...partitions].map(([partition, offset]) => ({ topic, partition, offset })));
    await this.withGroup(groupId, (session) => session.commit(entries));
  }

  /** Deletes consumer groups that have no active member (their committed offsets with them). */
  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    if (groupIds.length > 0) await this.admin.deleteGroups({ groups: [...groupIds] });
  }

  async listTopics(): Promise<string[]> {
    return this.admin.listTopics();
  }

  /**
   * The cluster's ID and the IDs of `topics` (Kafka gives each a UUID at creation: a topic deleted
   * and created again under the same name gets a new one). A topic the cluster does not hold is
   * missing from the map.
   */
  async identity(topics: readonly string[] = []): Promise<ClusterIdentity> {
    // Metadata for a topic the cluster does not hold fails the whole request: ask only for those it lists.
    const held = new Set(topics.length === 0 ? [] : await this.admin.listTopics());
    const metadata = await this.admin.metadata({ topics: topics.filter((topic) => held.has(topic)), forceUpdate: true });
    const topicIds = new Map<string, string>();
    for (const topic of topics) {
      const id = metadata.topics.get(topic)?.id;
      if (id !== undefined && id !== '' && id !== NULL_TOPIC_ID) topicIds.set(topic, id);
    }
    return { clusterId: metadata.id, topicIds };
  }

  async partitionCount(topic: string): Promise<number> {
    const metadata = await this.admin.metadata({ topics: [topic], forceUpdate: true });
    const count = metadata.topics.get(topic)?.partitionsCount;
    if (count === undefined) throw new Error(`topic ${topic} does not exist`);
    return count;
  }

  /**
   * Each partition's first and next offsets, asked again while the partitions have no leader
   * answering yet (a topic created moments ago), for up to `timeoutMs`. A topic the broker does not
   * know is asked for again too: a KRaft broker answers UNKNOWN_TOPIC_OR_PARTITION for a moment
   * after the controller created it.
   */
  async topicOffsets(topic: string, timeoutMs = 30_000): Promise<PartitionOffsets[]> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 50; ; delay = Math.min(1_000, delay * 2)) {
      try {
        const count = await this.partitionCount(topic);
        const ask = (timestamp: bigint) =>
          this.admin.listOffsets({
            topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp })) }],
          });
        const [lows, highs] = await Promise.all([ask(EARLIEST), ask(LATEST)]);
        const lowOf = new Map(lows[0]?.partitions.map((entry) => [entry.partitionIndex, entry.offset]) ?? []);
        return (highs[0]?.partitions ?? [])
          .map((entry) => ({ partition: entry.partitionIndex, low: String(lowOf.get(entry.partitionIndex) ?? 0n), high: String(entry.offset) }))
          .sort((a, b) => a.partition - b.partition);
      } catch (error) {
        if (Date.now() + delay > deadline) throw error;
      }
      await sleep(delay);
    }
  }

  /** Partition counts and configurations of those of `topics` that exist. */
  async describeTopics(topics: readonly string[]): Promise<Map<string, TopicDescription>> {
    const present = new Set(await this.admin.listTopics());
    const names = topics.filter((topic) => present.has(topic));
    const result = new Map<string, TopicDescription>();
    if (names.length === 0) return result;
    const [metadata, described] = await Promise.all([
      this.admin.metadata({ topics: names, forceUpdate: true }),
      this.admin.describeConfigs({ resources: names.map((resourceName) => ({ resourceType: TOPIC_RESOURCE, resourceName })) }),
    ]);
    for (const name of names) {
      const partitions = metadata.topics.get(name)?.partitionsCount;
      const resource = described.find((entry) => entry.resourceName === name);
      if (partitions === undefined || resource === undefined) continue;
      const configs = new Map<string, string>();
      const overrides = new Map<string, string>();
      for (const config of resource.configs) {
        if (config.value === null || config.value === undefined) continue;
        configs.set(config.name, config.value);
        if (config.configSource === TOPIC_CONFIG_SOURCE && !config.isSensitive) overrides.set(config.name, config.value);
      }
      result.set(name, { partitions, configs, overrides });
    }
    return result;
  }

  /** Sets configs of a topic (IncrementalAlterConfigs: the topic's other overrides stay as they are). */
  async setTopicConfigs(topic: string, entries: readonly { name: string; value: string }[]): Promise<void> {
    await this.admin.incrementalAlterConfigs({
      resources: [{ resourceType: TOPIC_RESOURCE, resourceName: topic, configs: entries.map(({ name, value }) => ({ name, configOperation: SET, value })) }],
    });
  }

  /** Grows a topic to `count` partitions (Kafka never removes partitions). */
  async createPartitions(topic: string, count: number): Promise<void> {
    await this.admin.createPartitions({ topics: [{ name: topic, count }] });
  }

  /** Deletes the records of a partition below `before` (DeleteRecords); answers the new first offset. */
  async deleteRecordsBefore(topic: string, partition: number, before: bigint): Promise<bigint> {
    const [deleted] = await this.admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition, offset: before }] }] });
    return deleted?.partitions.find((entry) => entry.partition === partition)?.lowWatermark ?? before;
  }

  /**
   * Makes `rules` the exact allow list of `principal` (`User:<name>`): creates the missing entries and
   * deletes the principal's entries that are not in it, in one request each. Running it again with
   * the same rules changes nothing.
   */
  async setAcls(principal: string, rules: readonly KafkaAcl[]): Promise<AclChanges> {
    const wanted = new Map(aclEntriesOf(principal, rules).map((acl) => [aclKey(acl), acl]));
    const filter: AclFilter = {
      resourceType: ResourceTypes.ANY as Acl['resourceType'],
      resourceName: null,
      resourcePatternType: ResourcePatternTypes.ANY as Acl['resourcePatternType'],
      principal,
      host: null,
      operation: AclOperations.ANY as Acl['operation'],
      permissionType: AclPermissionTypes.ANY as Acl['permissionType'],
    };
    const present = new Map<string, Acl>();
    for (const resource of await this.admin.describeAcls({ filter })) {
      for (const entry of resource.acls) {
        const acl: Acl = { resourceType: resource.resourceType, resourceName: resource.resourceName, resourcePatternType: resource.resourcePatternType, ...entry };
        present.set(aclKey(acl), acl);
      }
    }
    const missing = [...wanted].filter(([key]) => !present.has(key)).map(([, acl]) => acl);
    const stale = [...present].filter(([key]) => !wanted.has(key)).map(([, acl]) => acl);
    if (missing.length > 0) await this.admin.createAcls({ creations: missing });
    if (stale.length > 0) await this.admin.deleteAcls({ filters: stale });
    return { created: missing.length, deleted: stale.length, unchanged: wanted.size - missing.length };
  }

  /**
   * Sets a SCRAM user's password for each mechanism (AlterUserScramCredentials, a fresh salt each
   * time): creates the user or changes its password. Throws naming the user when the cluster refuses.
   */
  async setScramCredentials(user: string, password: string, mechanisms: readonly ScramMechanism[] = ['SCRAM-SHA-256', 'SCRAM-SHA-512']): Promise<void> {
    const [host, port] = splitHostPort(this.connection.brokers[0] ?? '');
    const connection = await this.admin.connections.get({ host, port });
    // One request per mechanism: the brokers refuse two changes of one user in a request.
    for (const mechanism of mechanisms) {
      const { code, hash, bytes } = SCRAM[mechanism];
      const salt = randomBytes(32);
      const upsertion = { name: user, mechanism: code, iterations: SCRAM_ITERATIONS, salt, saltedPassword: pbkdf2Sync(password.normalize('NFKC'), salt, SCRAM_ITERATIONS, bytes, hash) };
      const answer = await callApi<{ results: { errorCode: number; errorMessage: string | null }[] }>(connection, alterUserScramCredentialsV0.api, [], [upsertion]);
      const failed = answer.results.filter((result) => result.errorCode !== 0);
      if (failed.length > 0) {
        throw new Error(`setting the ${mechanism} credentials of ${user} failed: ${failed.map((result) => `error ${result.errorCode}${result.errorMessage ? ` (${result.errorMessage})` : ''}`).join('; ')}`);
      }
    }
  }

  async close(): Promise<void> {
    await this.admin.close().catch(() => undefined);
  }

  /**
   * Runs `work` with a session of the group that never joins it: its offset requests go to the
   * group's coordinator with no generation, as an administrator's do.
   */
  private async withGroup<T>(groupId: string, work: (session: GroupSession) => Promise<T>): Promise<T> {
    const client = applyBrokerAddress(new Consumer({ ...clientOptionsOf(this.connection), groupId }), this.connection);
    try {
      return await work(new GroupSession(client, { groupId, topics: [] }));
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  private async waitForLeaders(topics: readonly string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 50; ; delay = Math.min(1_000, delay * 2)) {
      try {
        const metadata = await this.admin.metadata({ topics: [...topics], forceUpdate: true });
        const led = topics.every((topic) => {
          const known = metadata.topics.get(topic);
          return known !== undefined && known.partitions.length > 0 && known.partitions.every((partition) => partition.leader >= 0);
        });
        if (led) return;
      } catch {
        // the controller created the topics but this broker does not know them yet
      }
      if (Date.now() + delay > deadline) throw new Error(`created ${topics.join(', ')} but their partitions got no leader within ${timeoutMs} ms`);
      await sleep(delay);
    }
  }
}
