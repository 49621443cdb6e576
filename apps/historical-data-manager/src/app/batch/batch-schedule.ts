/**
 * `BATCH_SCHEDULE`: `<job>@<period>` entries, comma-separated (e.g. `candles@1h,reconcile@1h`). Each
 * entry runs its job every period, over the period that just ended (periods are aligned to UTC
 * midnight), once `BATCH_SCHEDULE_DELAY` has passed after its end so the archive holds its records.
 * Entries due at the same moment are queued in the order they are listed.
 */
import { BATCH_JOBS, type BatchJobName, formatDuration } from './batch-request';

export interface ScheduleEntry {
  job: BatchJobName;
  periodNs: bigint;
  /** As written, e.g. `reconcile@1h`. */
  text: string;
}

const DAY_NS = 86_400_000_000_000n;
const UNIT_NS: Record<string, bigint> = { m: 60_000_000_000n, h: 3_600_000_000_000n, d: DAY_NS };

/** Parses the entries; throws an Error naming the bad entry. */
export function parseBatchSchedule(entries: readonly string[]): ScheduleEntry[] {
  return entries.map((text) => {
    const match = /^([a-z]+)@(\d+)([mhd])$/.exec(text.trim());
    if (!match) throw new Error(`"${text}" is not <job>@<period> (e.g. reconcile@1h; periods in m, h or d)`);
    const [, job, count, unit] = match as unknown as [string, string, string, string];
    if (!(BATCH_JOBS as readonly string[]).includes(job)) {
      throw new Error(`"${text}": unknown job ${job} (known: ${BATCH_JOBS.join(', ')})`);
    }
    const periodNs = BigInt(count) * (UNIT_NS[unit] as bigint);
    if (periodNs === 0n || (periodNs < DAY_NS && DAY_NS % periodNs !== 0n) || (periodNs > DAY_NS && periodNs % DAY_NS !== 0n)) {
      throw new Error(`"${text}": the period must divide a day (or be whole days) so runs line up with UTC midnight`);
    }
    return { job: job as BatchJobName, periodNs, text: `${job}@${formatDuration(periodNs)}` };
  });
}

export interface DueRun {
  entry: ScheduleEntry;
  fromNs: bigint;
  toNs: bigint;
}

/** The end of the period that contains `ns` (or `ns` itself when it is a period boundary). */
export function periodEndAtOrAfter(ns: bigint, periodNs: bigint): bigint {
  const rest = ns % periodNs;
  return rest === 0n ? ns : ns - rest + periodNs;
}

/**
 * Runs that become due in `(afterNs, nowNs]` (their period end + delay falls in it), in time order
 * then entry order. Each covers the period that ended.
 */
export function dueRuns(entries: readonly ScheduleEntry[], afterNs: bigint, nowNs: bigint, delayNs: bigint): DueRun[] {
  const runs: (DueRun & { at: bigint; order: number })[] = [];
  entries.forEach((entry, order) => {
    // the first period end whose run time is after `afterNs`
    let end = periodEndAtOrAfter(afterNs - delayNs + 1n, entry.periodNs);
    while (end + delayNs <= nowNs) {
      runs.push({ entry, fromNs: end - entry.periodNs, toNs: end, at: end + delayNs, order });
      end += entry.periodNs;
    }
  });
  runs.sort((a, b) => (a.at === b.at ? a.order - b.order : a.at < b.at ? -1 : 1));
  return runs.map(({ entry, fromNs, toNs }) => ({ entry, fromNs, toNs }));
}

/** When the next run of any entry becomes due after `nowNs` (null without entries). */
export function nextDueAt(entries: readonly ScheduleEntry[], nowNs: bigint, delayNs: bigint): bigint | null {
  let next: bigint | null = null;
  for (const entry of entries) {
    const at = periodEndAtOrAfter(nowNs - delayNs + 1n, entry.periodNs) + delayNs;
    if (next === null || at < next) next = at;
  }
  return next;
}
