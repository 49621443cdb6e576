import { assignWith, type PartitionAssignor } from '@tributary/kafka';

/** Name the group protocol announces; every instance of the group must use it. */
export const SINGLE_OWNER_ASSIGNER = 'TributarySingleOwner';

/**
 * Every partition of every subscribed topic to one member (the first by member id), none to the others:
 * the owner of the global slot reads all partitions of the global rules' inputs, so a rule keyed by
 * something its inputs are not partitioned by (an account over CDC tables keyed by primary key) sees
 * all its events in one place. The other members stand by and take over when the owner leaves.
 */
export function singleOwnerAssignment(
  memberIds: readonly string[],
  partitionsByTopic: Readonly<Record<string, readonly number[]>>,
): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const assignment = new Map<string, Record<string, number[]>>(members.map((member) => [member, {}]));
  const owner = members[0];
  if (owner === undefined) return assignment;
  assignment.set(owner, Object.fromEntries(Object.entries(partitionsByTopic).map(([topic, partitions]) => [topic, [...partitions].sort((a, b) => a - b)])));
  return assignment;
}

/** {@link singleOwnerAssignment} for the group leader of a managed consumer. */
export const singleOwnerAssignor: PartitionAssignor = {
  name: SINGLE_OWNER_ASSIGNER,
  assign: (members, partitionCounts) => assignWith(singleOwnerAssignment, members, partitionCounts),
};
