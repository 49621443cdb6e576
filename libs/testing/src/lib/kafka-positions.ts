import type { Admin } from 'kafkajs';
import { eventually } from './eventually';
import { runKafkaTool } from './kafka-tools';

/**
 * Commits, for a consumer group that has not consumed yet, the current end offset of every partition
 * of `topics`. A consumer of that group then reads exactly the records written from now on, however
 * long it takes to join: with `fromBeginning: false` alone it would start from the end as it stands
 * at its first fetch, and miss what was written while it was joining.
 *
 * The offsets are committed by Kafka's own `kafka-consumer-groups --reset-offsets --to-latest`, in
 * one call for all topics and without joining the group (kafkajs's `admin.setOffsets` joins the
 * group and waits out a fetch, about 5 s per topic). A topic created a moment ago may have no
 * partition leader yet, and a broker started a moment ago no group coordinator (both answered with
 * retriable errors): each step is retried until it succeeds, within the usual generous deadline.
 */
export async function commitEndOffsets(
  admin: Admin,
  groupId: string,
  topics: readonly string[],
): Promise<void> {
  for (const topic of topics) {
    await eventually(
      () => admin.fetchTopicOffsets(topic),
      `the end offsets of ${topic} (its partitions need leaders)`,
    );
  }
  const brokers = process.env['KAFKA_BROKERS'];
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: integration tests read it from tools/infra');
  await eventually(
    () =>
      runKafkaTool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
        '--bootstrap-server',
        brokers,
        '--group',
        groupId,
        '--reset-offsets',
        '--to-latest',
        '--execute',
        ...topics.flatMap((topic) => ['--topic', topic]),
      ]),
    `group ${groupId} to take the end offsets of ${topics.join(', ')}`,
  );
}
