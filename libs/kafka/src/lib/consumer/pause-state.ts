/** A topic paused whole, or some of its partitions. */
export interface PausedTopic {
  readonly topic: string;
  /** Absent when the whole topic is paused. */
  readonly partitions?: number[];
}

/**
 * Which topics and partitions the application asked not to fetch (a store it writes to is down,
 * its buffers are full). It is the application's wish, kept apart from the assignment: it holds
 * for partitions the member gets later (a rebalance, a restart of the session) and is applied to
 * each of them as it is assigned.
 */
export class PauseState {
  private readonly paused = new Map<string, Set<number> | 'all'>();

  /** Pauses `topic`, or only some of its partitions. */
  pause(topic: string, partitions?: readonly number[]): void {
    const current = this.paused.get(topic);
    if (partitions === undefined || current === 'all') this.paused.set(topic, 'all');
    else this.paused.set(topic, new Set([...(current ?? []), ...partitions]));
  }

  /**
   * Resumes `topic`, or some of its partitions. Resuming a partition of a topic paused whole
   * changes nothing: the whole topic is resumed with `resume(topic)`.
   */
  resume(topic: string, partitions?: readonly number[]): void {
    const current = this.paused.get(topic);
    if (current === undefined) return;
    if (partitions === undefined) {
      this.paused.delete(topic);
      return;
    }
    if (current === 'all') return;
    for (const partition of partitions) current.delete(partition);
    if (current.size === 0) this.paused.delete(topic);
  }

  isPaused(topic: string, partition: number): boolean {
    const current = this.paused.get(topic);
    return current === 'all' || (current?.has(partition) ?? false);
  }

  /** What is paused, topic by topic, partitions in ascending order. */
  list(): PausedTopic[] {
    return [...this.paused].map(([topic, partitions]) =>
      partitions === 'all' ? { topic } : { topic, partitions: [...partitions].sort((a, b) => a - b) },
    );
  }
}
