/**
 * The "consumer" embedded protocol of Kafka's classic consumer groups: what a member tells the
 * group leader (its subscription) and what the leader hands each member (its assignment), in the
 * byte layout every Kafka client uses, so a Tributary member can share a group with Java ones.
 *
 * ```
 * Subscription v0: version int16 | topics [string] | user_data bytes
 * Assignment   v0: version int16 | assigned [topic string | partitions [int32]] | user_data bytes
 * ```
 * (arrays: int32 count; strings: int16 length; bytes: int32 length, -1 for null). Newer versions
 * only append fields, which readers of v0 ignore.
 */

export interface Subscription {
  readonly topics: readonly string[];
  readonly userData?: Buffer | null;
}

/** Partitions per topic. */
export type Assignment = ReadonlyMap<string, readonly number[]>;

class Out {
  private readonly parts: Buffer[] = [];

  int16(n: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(n);
    this.parts.push(b);
    return this;
  }

  int32(n: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }

  string(s: string): this {
    const bytes = Buffer.from(s);
    return this.int16(bytes.length).raw(bytes);
  }

  bytes(b: Buffer | null | undefined): this {
    if (b === null || b === undefined) return this.int32(-1);
    return this.int32(b.length).raw(b);
  }

  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }

  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class In {
  private at = 0;

  constructor(private readonly buffer: Buffer) {}

  int16(): number {
    const n = this.buffer.readInt16BE(this.at);
    this.at += 2;
    return n;
  }

  int32(): number {
    const n = this.buffer.readInt32BE(this.at);
    this.at += 4;
    return n;
  }

  string(): string {
    const length = this.int16();
    const s = this.buffer.toString('utf8', this.at, this.at + length);
    this.at += length;
    return s;
  }

  bytes(): Buffer | null {
    const length = this.int32();
    if (length < 0) return null;
    const b = this.buffer.subarray(this.at, this.at + length);
    this.at += length;
    return b;
  }

  get remaining(): number {
    return this.buffer.length - this.at;
  }
}

export function encodeSubscription(subscription: Subscription): Buffer {
  const out = new Out().int16(0).int32(subscription.topics.length);
  for (const topic of subscription.topics) out.string(topic);
  return out.bytes(subscription.userData).done();
}

export function decodeSubscription(buffer: Buffer): Subscription {
  const input = new In(buffer);
  input.int16(); // version: later versions only add fields after these
  const topics = Array.from({ length: input.int32() }, () => input.string());
  const userData = input.remaining >= 4 ? input.bytes() : null;
  return { topics, userData };
}

export function encodeAssignment(assignment: Assignment, userData?: Buffer | null): Buffer {
  const out = new Out().int16(0).int32(assignment.size);
  for (const [topic, partitions] of assignment) {
    out.string(topic).int32(partitions.length);
    for (const partition of partitions) out.int32(partition);
  }
  return out.bytes(userData).done();
}

export function decodeAssignment(buffer: Buffer): Assignment {
  const assignment = new Map<string, number[]>();
  // A member the leader gave nothing may get an empty buffer.
  if (buffer.length < 2) return assignment;
  const input = new In(buffer);
  input.int16();
  const topics = input.int32();
  for (let t = 0; t < topics; t++) {
    const topic = input.string();
    assignment.set(
      topic,
      Array.from({ length: input.int32() }, () => input.int32()),
    );
  }
  return assignment;
}

/** One member as the group leader sees it. */
export interface GroupMember {
  readonly memberId: string;
  /** Static membership: the same id across restarts of one pod. */
  readonly groupInstanceId?: string | null;
  readonly subscription: Subscription;
}

/** Computes every member's partitions; runs in the member the coordinator made leader. */
export interface PartitionAssignor {
  /** The protocol name members agree on (Java: `partition.assignment.strategy`). */
  readonly name: string;
  assign(members: readonly GroupMember[], partitionCounts: ReadonlyMap<string, number>): Map<string, Assignment>;
}

/**
 * Kafka's range assignor, as the Java client computes it: per topic, its partitions split into
 * contiguous ranges over the subscribed members in order of their (instance, else member) id, the
 * first `partitions % members` members one more. Topics with the same partition count therefore
 * give the same partition numbers to the same member: co-partitioned topics are joined locally.
 */
export const rangeAssignor: PartitionAssignor = {
  name: 'range',
  assign(members, partitionCounts) {
    const result = new Map<string, Map<string, number[]>>(members.map((member) => [member.memberId, new Map()]));
    const order = (member: GroupMember) => member.groupInstanceId ?? member.memberId;
    for (const [topic, count] of partitionCounts) {
      const subscribed = members
        .filter((member) => member.subscription.topics.includes(topic))
        .sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
      if (subscribed.length === 0) continue;
      const each = Math.floor(count / subscribed.length);
      const extra = count % subscribed.length;
      subscribed.forEach((member, index) => {
        const start = each * index + Math.min(index, extra);
        const length = each + (index < extra ? 1 : 0);
        if (length === 0) return;
        result.get(member.memberId)?.set(
          topic,
          Array.from({ length }, (_, offset) => start + offset),
        );
      });
    }
    return result;
  },
};
