/**
 * Whether the archived positions of a topic belong to the topic the cluster holds now.
 *
 * Kafka offsets mean something only within one topic (topic ID) of one cluster (cluster ID): a
 * topic deleted and created again, a failover to another cluster (MirrorMaker 2 does not keep
 * offsets), a second environment on the same catalog, a cluster rebuilt from backup all count from
 * 0 again, and archived offsets of the old log would make the archive skip the new log's records as
 * "already archived". So the archive never guesses: whatever this check cannot prove consistent
 * stops the topic until an operator decides (a new epoch, or re-attaching after a verified restore).
 *
 * The rules, per stored position `next` (the next offset not archived) of a partition whose log
 * holds `[low, high)` now:
 * - stored cluster ID or topic ID differ from the cluster's: **mismatch** (`cluster-changed`,
 *   `topic-recreated`), whatever the offsets say;
 * - `next > high`: the log ends before records already archived: **mismatch**
 *   (`ahead-of-log-end`) — the log was truncated or replaced;
 * - a stored partition the topic no longer has: **mismatch** (`partition-missing`; Kafka never
 *   removes partitions of a topic);
 * - `next < low` with a known, matching identity: **consistent**. Offsets of one topic ID never
 *   restart, so the records `[next, low)` were deleted from that very log (retention, or
 *   DeleteRecords) before the archive read them; the archive goes on from `low` and reports the gap;
 * - `next < low` on a catalog made before identities were recorded (no stored identity):
 *   **mismatch** (`behind-log-start`): without an ID, a log that starts after the stored position
 *   cannot be told from another log, so the operator confirms;
 * - `low <= next <= high`: consistent; a catalog without identity then adopts the cluster's (the
 *   upgrade raises no false alarm).
 */

/** Identity of a source topic's log: the Kafka cluster ID and the topic ID. */
export interface TopicIdentity {
  clusterId: string;
  topicId: string;
}

/** One partition's first and next offsets (`ClusterAdmin.topicOffsets`). */
export interface LogRange {
  partition: number;
  low: bigint;
  high: bigint;
}

export type MismatchKind =
  | 'cluster-changed'
  | 'topic-recreated'
  | 'topic-missing'
  | 'ahead-of-log-end'
  | 'behind-log-start'
  | 'partition-missing';

export interface IdentityMismatch {
  kind: MismatchKind;
  /** What an operator reads: which identity or position does not fit, in plain words. */
  reason: string;
  /** Partitions whose positions do not fit the log (position checks only). */
  partitions: { partition: number; archivedUpTo: string; logStart: string; logEnd: string }[];
}

export type IdentityVerdict =
  | {
      verdict: 'consistent';
      adopt: boolean;
      retentionGaps: { partition: number; from: bigint; to: bigint }[];
    }
  | { verdict: 'mismatch'; mismatch: IdentityMismatch };

/**
 * Compares what the catalog stored for a topic's current epoch with the cluster's identity and its
 * logs (see the module comment for the rules). `stored` null: rows made before identities were
 * recorded. `current` null: the cluster does not hold the topic now. `logs` are needed only when the
 * identities match or none is stored.
 */
export function checkTopicIdentity(
  topic: string,
  stored: TopicIdentity | null,
  current: { clusterId: string; topicId: string | null },
  positions: ReadonlyMap<number, bigint>,
  logs: readonly LogRange[] | null,
): IdentityVerdict {
  const mismatch = (
    kind: MismatchKind,
    reason: string,
    partitions: IdentityMismatch['partitions'] = [],
  ): IdentityVerdict => ({
    verdict: 'mismatch',
    mismatch: { kind, reason, partitions },
  });
  if (stored !== null && stored.clusterId !== current.clusterId) {
    return mismatch(
      'cluster-changed',
      `${topic} was archived from Kafka cluster ${stored.clusterId}; the brokers now belong to cluster ${current.clusterId}, whose offsets are unrelated`,
    );
  }
  if (current.topicId === null) {
    return mismatch('topic-missing', `${topic} does not exist on cluster ${current.clusterId}`);
  }
  if (stored !== null && stored.topicId !== current.topicId) {
    return mismatch(
      'topic-recreated',
      `${topic} was archived from topic ID ${stored.topicId}; the topic now has ID ${current.topicId} (deleted and created again), its offsets start over`,
    );
  }
  const byPartition = new Map((logs ?? []).map((log) => [log.partition, log]));
  const retentionGaps: { partition: number; from: bigint; to: bigint }[] = [];
  const missing: IdentityMismatch['partitions'] = [];
  const ahead: IdentityMismatch['partitions'] = [];
  const behind: IdentityMismatch['partitions'] = [];
  for (const [partition, next] of [...positions].sort((a, b) => a[0] - b[0])) {
    const log = byPartition.get(partition);
    const entry = {
      partition,
      archivedUpTo: next.toString(),
      logStart: log?.low.toString() ?? '',
      logEnd: log?.high.toString() ?? '',
    };
    if (log === undefined) missing.push(entry);
    else if (next > log.high) ahead.push(entry);
    else if (next < log.low) {
      if (stored === null) behind.push(entry);
      else retentionGaps.push({ partition, from: next, to: log.low });
    }
  }
  const describe = (parts: IdentityMismatch['partitions']) =>
    parts
      .map(
        (p) =>
          `partition ${p.partition}: archived up to ${p.archivedUpTo}, log holds ${p.logStart}..${p.logEnd}`,
      )
      .join('; ');
  if (missing.length > 0) {
    return mismatch(
      'partition-missing',
      `${topic} has fewer partitions than were archived (${missing.map((p) => p.partition).join(', ')} missing)`,
      missing,
    );
  }
  if (ahead.length > 0) {
    return mismatch(
      'ahead-of-log-end',
      `${topic}: archived positions are beyond the end of the log (${describe(ahead)})`,
      ahead,
    );
  }
  if (behind.length > 0) {
    return mismatch(
      'behind-log-start',
      `${topic}: the catalog records no cluster or topic ID and its positions are before the start of the log (${describe(behind)}); it cannot tell retention from another log`,
      behind,
    );
  }
  return { verdict: 'consistent', adopt: stored === null, retentionGaps };
}
