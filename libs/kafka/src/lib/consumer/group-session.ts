import {
  type Connection,
  type Consumer,
  heartbeatV4,
  joinGroupV9,
  leaveGroupV5,
  offsetCommitV8,
  offsetFetchV8,
  syncGroupV5,
} from '@platformatic/kafka';
import {
  type Assignment,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type GroupMember,
  type PartitionAssignor,
  rangeAssignor,
} from './group-protocol';
import { COORDINATOR_MOVED, KAFKA_ERRORS, kafkaErrorName } from '../error-codes';
import { callApi } from '../protocol-call';

const PROTOCOL_TYPE = 'consumer';
const UNSTABLE_OFFSET_COMMIT: number = KAFKA_ERRORS.UNSTABLE_OFFSET_COMMIT;

/** A Kafka error code from the coordinator, with its name where the session knows it. */
export class GroupError extends Error {
  constructor(
    readonly operation: string,
    readonly errorCode: number,
  ) {
    super(`${operation} failed: ${kafkaErrorName(errorCode)}`);
    this.name = 'GroupError';
  }
}

export interface GroupSessionOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** How long the coordinator waits for a silent member; default 30 s. */
  readonly sessionTimeoutMs?: number;
  /** How long a rebalance waits for members to rejoin; default 60 s. */
  readonly rebalanceTimeoutMs?: number;
  /** Default a third of the session timeout, at most 3 s. */
  readonly heartbeatIntervalMs?: number;
  /** Static membership: the same id across restarts keeps the member's partitions without a rebalance. */
  readonly groupInstanceId?: string;
  readonly assignor?: PartitionAssignor;
  /**
   * Called before the member rejoins the group (a rebalance started, or it is leaving): stop
   * taking records of these partitions and finish and commit what is in flight; commits made
   * before this resolves still count.
   */
  readonly onRevoke?: (assignment: Assignment) => Promise<void> | void;
  /** Called with the partitions of each new generation. */
  readonly onAssign?: (assignment: Assignment, generationId: number) => Promise<void> | void;
  /** Called when the membership was lost (session expired, fenced): commits of the old generation fail. */
  readonly onLost?: (error: Error) => void;
}

export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly metadata?: string | null;
}

/**
 * One member of a classic Kafka consumer group, speaking the group protocol itself over the
 * client's (@platformatic/kafka) connections: JoinGroup, SyncGroup (the leader computes every
 * member's partitions with the assignor), Heartbeat, OffsetCommit with the generation and member
 * id, LeaveGroup. When a heartbeat reports a rebalance the member first calls `onRevoke` (the
 * consumer finishes and commits its batches in flight), then rejoins: the eager rebalance of
 * Kafka's Java consumer. Commits carry the generation, so the coordinator refuses those of a
 * member that lost its partitions.
 */
export class GroupSession {
  private memberId = '';
  private generationId = -1;
  private current: Assignment = new Map();
  private coordinator?: Connection;
  private heartbeat?: NodeJS.Timeout;
  private rejoining?: Promise<void>;
  private stopped = false;

  /** `client` is a @platformatic/kafka consumer of the same group id (it finds the coordinator); it never joins itself. */
  constructor(
    private readonly client: Consumer,
    private readonly options: GroupSessionOptions,
  ) {
    if (client.groupId !== options.groupId) {
      throw new Error(`the client belongs to group ${client.groupId}, the session to ${options.groupId}`);
    }
  }

  get assignment(): Assignment {
    return this.current;
  }

  get generation(): { readonly generationId: number; readonly memberId: string } {
    return { generationId: this.generationId, memberId: this.memberId };
  }

  /** Joins the group and returns this member's first assignment; heartbeats from then on. */
  async join(): Promise<Assignment> {
    this.stopped = false;
    await this.joinOnce();
    this.scheduleHeartbeat();
    return this.current;
  }

  /** Commits offsets (the next offset to read, per partition) in this member's generation. */
  async commit(offsets: readonly CommittedOffset[]): Promise<void> {
    const byTopic = new Map<string, offsetCommitV8.OffsetCommitRequestTopic>();
    for (const { topic, partition, offset, metadata } of offsets) {
      let entry = byTopic.get(topic);
      if (!entry) {
        entry = { name: topic, partitions: [] };
        byTopic.set(topic, entry);
      }
      entry.partitions.push({
        partitionIndex: partition,
        committedOffset: offset,
        committedLeaderEpoch: -1,
        committedMetadata: metadata ?? null,
      });
    }
    const response = await this.call<offsetCommitV8.OffsetCommitResponse>(
      offsetCommitV8.api,
      this.options.groupId,
      this.generationId,
      this.memberId,
      this.options.groupInstanceId ?? null,
      [...byTopic.values()],
    );
    for (const topic of response.topics) {
      for (const partition of topic.partitions) {
        if (partition.errorCode !== 0) throw new GroupError(`committing ${topic.name}[${partition.partitionIndex}]`, partition.errorCode);
      }
    }
  }

  /** The group's committed offsets of the partitions (undefined where nothing was committed). */
  async committed(assignment: Assignment): Promise<Map<string, bigint | undefined>> {
    const entries = await this.committedEntries(assignment);
    return new Map([...entries].map(([key, entry]) => [key, entry.offset]));
  }

  /**
   * The group's committed offsets of the partitions with the metadata committed beside them,
   * keyed `topic:partition`. While a transaction that commits offsets of a partition is still
   * open (UNSTABLE_OFFSET_COMMIT) it asks again, as the Java consumer does.
   */
  async committedEntries(assignment: Assignment): Promise<Map<string, { offset: bigint | undefined; metadata: string | null }>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchCommitted(assignment);
      } catch (error) {
        if (!(error instanceof GroupError) || error.errorCode !== UNSTABLE_OFFSET_COMMIT || attempt >= 150 || this.stopped) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private async fetchCommitted(assignment: Assignment): Promise<Map<string, { offset: bigint | undefined; metadata: string | null }>> {
    const response = await this.call<offsetFetchV8.OffsetFetchResponse>(
      offsetFetchV8.api,
      [
        {
          groupId: this.options.groupId,
          memberId: null,
          memberEpoch: -1,
          topics: [...assignment].map(([name, partitionIndexes]) => ({ name, partitionIndexes: [...partitionIndexes] })),
        },
      ],
      true,
    );
    const result = new Map<string, { offset: bigint | undefined; metadata: string | null }>();
    for (const group of response.groups) {
      if (group.errorCode !== 0) throw new GroupError('reading committed offsets', group.errorCode);
      for (const topic of group.topics) {
        for (const partition of topic.partitions) {
          if (partition.errorCode !== 0) throw new GroupError(`reading the offset of ${topic.name}`, partition.errorCode);
          result.set(`${topic.name}:${partition.partitionIndex}`, {
            offset: partition.committedOffset < 0n ? undefined : partition.committedOffset,
            metadata: partition.metadata ?? null,
          });
        }
      }
    }
    return result;
  }

  /**
   * Revokes the partitions (`onRevoke`) and leaves the group, so the others take them over at once.
   * A static member does not leave: it keeps its partitions through a restart within the session timeout.
   */
  async leave(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearTimeout(this.heartbeat);
    await this.rejoining?.catch(() => undefined);
    await this.options.onRevoke?.(this.current);
    this.current = new Map();
    if (this.memberId && this.options.groupInstanceId === undefined) {
      await this.call(leaveGroupV5.api, this.options.groupId, [{ memberId: this.memberId, groupInstanceId: null, reason: 'leaving' }]).catch(
        () => undefined,
      );
    }
    this.memberId = '';
    this.generationId = -1;
  }

  private async joinOnce(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const joined = await this.call<joinGroupV9.JoinGroupResponse>(
        joinGroupV9.api,
        this.options.groupId,
        this.options.sessionTimeoutMs ?? 30_000,
        this.options.rebalanceTimeoutMs ?? 60_000,
        this.memberId,
        this.options.groupInstanceId ?? null,
        PROTOCOL_TYPE,
        [{ name: this.assignor.name, metadata: encodeSubscription({ topics: this.options.topics }) }],
        null,
      );
      if (joined.errorCode === KAFKA_ERRORS.MEMBER_ID_REQUIRED || joined.errorCode === KAFKA_ERRORS.UNKNOWN_MEMBER_ID) {
        // The coordinator names the member id to join with (KIP-394), or forgot the old one.
        this.memberId = joined.errorCode === KAFKA_ERRORS.MEMBER_ID_REQUIRED ? joined.memberId : '';
        continue;
      }
      if (joined.errorCode === KAFKA_ERRORS.REBALANCE_IN_PROGRESS && attempt < 10) continue;
      if (COORDINATOR_MOVED.has(joined.errorCode) && attempt < 10) {
        this.coordinator = undefined;
        await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
        continue;
      }
      if (joined.errorCode !== 0) throw new GroupError(`joining ${this.options.groupId}`, joined.errorCode);
      this.memberId = joined.memberId;
      const assignments =
        joined.leader === joined.memberId && !joined.skipAssignment ? await this.assign(joined.members) : [];
      const synced = await this.call<syncGroupV5.SyncGroupResponse>(
        syncGroupV5.api,
        this.options.groupId,
        joined.generationId,
        this.memberId,
        this.options.groupInstanceId ?? null,
        PROTOCOL_TYPE,
        this.assignor.name,
        assignments,
      );
      if (synced.errorCode === KAFKA_ERRORS.REBALANCE_IN_PROGRESS && attempt < 10) continue;
      if (synced.errorCode !== 0) throw new GroupError(`syncing ${this.options.groupId}`, synced.errorCode);
      this.generationId = joined.generationId;
      this.current = decodeAssignment(synced.assignment);
      await this.options.onAssign?.(this.current, this.generationId);
      return;
    }
  }

  /** The leader's part: every member's partitions, from the members' subscriptions and the metadata. */
  private async assign(members: readonly joinGroupV9.JoinGroupResponseMember[]): Promise<syncGroupV5.SyncGroupRequestAssignment[]> {
    const decoded: GroupMember[] = members.map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId ?? null,
      subscription: decodeSubscription(member.metadata),
    }));
    const topics = [...new Set(decoded.flatMap((member) => member.subscription.topics))];
    const metadata = await this.client.metadata({ topics, forceUpdate: true });
    const counts = new Map<string, number>();
    for (const topic of topics) {
      const known = metadata.topics.get(topic);
      if (known) counts.set(topic, known.partitionsCount);
    }
    const result = this.assignor.assign(decoded, counts);
    return decoded.map((member) => ({
      memberId: member.memberId,
      assignment: encodeAssignment(result.get(member.memberId) ?? new Map()),
    }));
  }

  private get assignor(): PartitionAssignor {
    return this.options.assignor ?? rangeAssignor;
  }

  private scheduleHeartbeat(): void {
    if (this.stopped) return;
    const interval = this.options.heartbeatIntervalMs ?? Math.min(3_000, (this.options.sessionTimeoutMs ?? 30_000) / 3);
    this.heartbeat = setTimeout(() => void this.beat(), interval);
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    let errorCode: number;
    try {
      const response = await this.call<heartbeatV4.HeartbeatResponse>(
        heartbeatV4.api,
        this.options.groupId,
        this.generationId,
        this.memberId,
        this.options.groupInstanceId ?? null,
      );
      errorCode = response.errorCode;
    } catch {
      // The coordinator is unreachable for now: look it up again at the next beat.
      this.coordinator = undefined;
      this.scheduleHeartbeat();
      return;
    }
    if (errorCode === 0 || this.stopped) {
      this.scheduleHeartbeat();
      return;
    }
    if (COORDINATOR_MOVED.has(errorCode)) {
      this.coordinator = undefined;
      this.scheduleHeartbeat();
      return;
    }
    const lost = errorCode !== KAFKA_ERRORS.REBALANCE_IN_PROGRESS;
    this.rejoining = (async () => {
      if (lost) {
        // Session expired or fenced: the partitions may already be someone else's.
        this.options.onLost?.(new GroupError('heartbeat', errorCode));
        if (errorCode === KAFKA_ERRORS.UNKNOWN_MEMBER_ID) this.memberId = '';
      }
      await this.options.onRevoke?.(this.current);
      this.current = new Map();
      await this.joinOnce();
    })();
    try {
      await this.rejoining;
    } catch (error) {
      this.options.onLost?.(error as Error);
    } finally {
      this.rejoining = undefined;
      this.scheduleHeartbeat();
    }
  }

  /** Sends a request to the group coordinator; the answer is returned even when it carries an error code. */
  private async call<R>(api: unknown, ...args: unknown[]): Promise<R> {
    const connection = await this.coordinatorConnection();
    try {
      return await callApi<R>(connection, api, ...args);
    } catch (error) {
      this.coordinator = undefined;
      throw error;
    }
  }

  private async coordinatorConnection(): Promise<Connection> {
    if (this.coordinator) return this.coordinator;
    const nodeId = await this.client.findGroupCoordinator();
    const metadata = await this.client.metadata({ topics: [] });
    const broker = metadata.brokers.get(nodeId);
    if (!broker) throw new Error(`the coordinator of ${this.options.groupId} (broker ${nodeId}) is not in the metadata`);
    this.coordinator = await this.client.connections.get(broker);
    return this.coordinator;
  }
}
