import { eventually } from './eventually';

/** What {@link commitEndOffsets} needs of an admin client (`ClusterAdmin` of @tributary/kafka has it). */
export interface OffsetsAdmin {
  topicOffsets(topic: string): Promise<readonly { readonly partition: number; readonly high: string }[]>;
  commitOffsets(groupId: string, offsets: ReadonlyMap<string, ReadonlyMap<number, bigint>>): Promise<void>;
}

/**
 * Commits, for a consumer group that has not consumed yet, the current end offset of every partition
 * of `topics`. A consumer of that group then reads exactly the records written from now on, however
 * long it takes to join: starting from the latest offset alone it would start from the end as it
 * stands at its first fetch, and miss what was written while it was joining.
 *
 * The offsets are committed without joining the group (OffsetCommit of a group with no member). A
 * topic created a moment ago may have no partition leader yet, and a broker started a moment ago
 * no group coordinator (both answered with retriable errors): each step is retried until it
 * succeeds, within the usual generous deadline.
 */
export async function commitEndOffsets(admin: OffsetsAdmin, groupId: string, topics: readonly string[]): Promise<void> {
  const offsets = new Map<string, Map<number, bigint>>();
  for (const topic of topics) {
    const ends = await eventually(() => admin.topicOffsets(topic), `the end offsets of ${topic} (its partitions need leaders)`);
    offsets.set(topic, new Map(ends.map((entry) => [entry.partition, BigInt(entry.high)])));
  }
  await eventually(
    async () => {
      await admin.commitOffsets(groupId, offsets);
      return true;
    },
    `group ${groupId} to take the end offsets of ${topics.join(', ')}`,
  );
}
