/** Epoch nanoseconds as a decimal string (the contracts' `ts`, the `event.time` header) to epoch milliseconds. */
export function nanosToMs(nanos: string): number {
  return nanos.length <= 6 ? Number(nanos) / 1e6 : Number(nanos.slice(0, -6)) + Number(nanos.slice(-6)) / 1e6;
}

/**
 * When the collector handed each moment of simulated event time to Kafka, learned from its own
 * trades as they are read back: event time (`event.time`) against the record's timestamp, which
 * the producer sets to the wall clock when it takes the record.
 *
 * The simulator's clock is not the wall clock (it starts in the past and resumes where the last
 * collector stopped), so a derived record's event time alone says nothing about its latency. But the
 * collector publishes in event-time order, so the first of its trades at or after event time t was
 * published no earlier than the event at t: that trade's timestamp stands for "when t was
 * published", within the gap to the next trade (under a millisecond at the rates measured here).
 */
export class PublishClock {
  /** Per partition: event times (ms, increasing) and the timestamps of the trades that carried them. */
  private readonly partitions = new Map<
    number,
    { readonly eventMs: number[]; readonly publishedMs: number[] }
  >();
  private newestEventMs = -Infinity;

  record(partition: number, eventMs: number, publishedMs: number): void {
    let timeline = this.partitions.get(partition);
    if (!timeline) {
      timeline = { eventMs: [], publishedMs: [] };
      this.partitions.set(partition, timeline);
    }
    // A partition's records come in offset order, and the collector writes in event-time order;
    // anything else (a record another collector wrote with the same instance name) is left out.
    if (timeline.eventMs.length > 0 && eventMs < (timeline.eventMs[timeline.eventMs.length - 1] as number))
      return;
    timeline.eventMs.push(eventMs);
    timeline.publishedMs.push(publishedMs);
    if (eventMs > this.newestEventMs) this.newestEventMs = eventMs;
  }

  /** The newest event time read back so far. */
  get latestEventMs(): number {
    return this.newestEventMs;
  }

  /** Wall time (ms) the collector published event time `eventMs`; undefined until a trade at or after it was read. */
  publishedAt(eventMs: number): number | undefined {
    let earliest: number | undefined;
    for (const { eventMs: events, publishedMs } of this.partitions.values()) {
      let low = 0;
      let high = events.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if ((events[middle] as number) < eventMs) low = middle + 1;
        else high = middle;
      }
      if (low < events.length) {
        const published = publishedMs[low] as number;
        if (earliest === undefined || published < earliest) earliest = published;
      }
    }
    return earliest;
  }
}
