import type { Admin } from 'kafkajs';
import { eventually } from './eventually';

/**
 * Commits, for a consumer group that has not consumed yet, the current end offset of every partition
 * of `topics`. A consumer of that group then reads exactly the records written from now on, however
 * long it takes to join: with `fromBeginning: false` alone it would start from the end as it stands
 * at its first fetch, and miss what was written while it was joining.
 *
 * A topic created a moment ago may have no partition leader yet, and a broker started a moment ago
 * no group coordinator (both answered with retriable errors): each step is retried until it
 * succeeds, within the usual generous deadline.
 */
export async function commitEndOffsets(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<void> {
  for (const topic of topics) {
    const ends = await eventually(
      () => admin.fetchTopicOffsets(topic),
      `the end offsets of ${topic} (its partitions need leaders)`,
    );
    await eventually(
      async () => {
        await admin.setOffsets({
          groupId,
          topic,
          partitions: ends.map(({ partition, high }) => ({ partition, offset: high })),
        });
        return true;
      },
      `group ${groupId} to take the end offsets of ${topic}`,
    );
  }
}
