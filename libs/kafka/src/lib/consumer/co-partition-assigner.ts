import type { Assignment, PartitionAssignor } from './group-protocol';

/** Name the group protocol announces; every instance of a group must use it. */
export const CO_PARTITION_ASSIGNER = 'TributaryCoPartitioned';

/**
 * Assigns partition numbers, not topic-partitions: the member that gets number N gets partition N of
 * every subscribed topic. Symbol-keyed topics have equal partition counts and the default partitioner,
 * so partition N of each holds the same symbols: one owner sees all of a symbol's events and its keyed
 * state (checkpointed per partition number) moves as one piece in a rebalance. Numbers are dealt out
 * round robin over the members sorted by id, so the split is deterministic and even.
 */
export function coPartitionedAssignment(
  memberIds: readonly string[],
  partitionsByTopic: Readonly<Record<string, readonly number[]>>,
): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const assignment = new Map<string, Record<string, number[]>>(members.map((member) => [member, {}]));
  if (members.length === 0) return assignment;
  const numbers = [...new Set(Object.values(partitionsByTopic).flat())].sort((a, b) => a - b);
  numbers.forEach((number, index) => {
    const owner = assignment.get(members[index % members.length]) as Record<string, number[]>;
    for (const [topic, partitions] of Object.entries(partitionsByTopic)) {
      if (!partitions.includes(number)) continue;
      (owner[topic] ??= []).push(number);
    }
  });
  return assignment;
}

/**
 * {@link coPartitionedAssignment} as the group leader of a {@link GroupSession} runs it, under
 * the protocol name {@link CO_PARTITION_ASSIGNER} every member of the group announces.
 */
export const coPartitionAssignor: PartitionAssignor = {
  name: CO_PARTITION_ASSIGNER,
  assign(members, partitionCounts) {
    return assignWith(coPartitionedAssignment, members, partitionCounts);
  },
};

/** Runs an assignment computed from member ids and partitions over the leader's view of the group. */
export function assignWith(
  compute: (memberIds: readonly string[], partitionsByTopic: Readonly<Record<string, readonly number[]>>) => Map<string, Record<string, number[]>>,
  members: Parameters<PartitionAssignor['assign']>[0],
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, Assignment> {
  const subscribed = new Set(members.flatMap((member) => member.subscription.topics));
  const partitionsByTopic: Record<string, number[]> = {};
  for (const [topic, count] of partitionCounts) {
    if (subscribed.has(topic)) partitionsByTopic[topic] = Array.from({ length: count }, (_, partition) => partition);
  }
  const computed = compute(
    members.map((member) => member.memberId),
    partitionsByTopic,
  );
  return new Map([...computed].map(([memberId, topics]) => [memberId, new Map(Object.entries(topics))]));
}
