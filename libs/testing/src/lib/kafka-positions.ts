import type { Admin } from 'kafkajs';

/**
 * Commits, for a consumer group that has not consumed yet, the current end offset of every partition
 * of `topics`. A consumer of that group then reads exactly the records written from now on, however
 * long it takes to join: with `fromBeginning: false` alone it would start from the end as it stands
 * at its first fetch, and miss what was written while it was joining.
 */
export async function commitEndOffsets(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<void> {
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({
      groupId,
      topic,
      partitions: ends.map(({ partition, high }) => ({ partition, offset: high })),
    });
  }
}
