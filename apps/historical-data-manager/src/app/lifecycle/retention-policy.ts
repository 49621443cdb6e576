/**
 * `ARCHIVE_RETENTION`: how long each dataset's files are kept, e.g.
 * `market_trades=30d,options_quotes=7d,default=90d`. `forever` keeps a dataset's files; a dataset
 * without an entry takes `default`, and without a `default` its files are kept.
 */
export interface RetentionPolicy {
  /** Days for datasets without their own entry; null keeps them forever. */
  defaultDays: number | null;
  /** Per dataset: days, or null for `forever`. */
  datasets: ReadonlyMap<string, number | null>;
}

const ENTRY = /^([A-Za-z0-9_]{1,200})=(?:(\d{1,5})d|(forever))$/;
const MAX_DAYS = 36_500;

/** Parses the entries of `ARCHIVE_RETENTION`; throws naming every entry it refuses. */
export function parseRetentionPolicy(entries: readonly string[]): RetentionPolicy {
  const datasets = new Map<string, number | null>();
  let defaultDays: number | null = null;
  const bad: string[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const match = ENTRY.exec(entry.trim());
    const days = match?.[2] === undefined ? null : Number(match[2]);
    if (!match || (days !== null && (days < 1 || days > MAX_DAYS)) || seen.has(match[1] as string)) {
      bad.push(entry);
      continue;
    }
    const name = match[1] as string;
    seen.add(name);
    if (name === 'default') defaultDays = days;
    else datasets.set(name, days);
  }
  if (bad.length > 0) {
    throw new Error(
      `cannot read ${bad.map((b) => JSON.stringify(b)).join(', ')}: write <dataset>=<days>d or <dataset>=forever, ` +
        `each dataset once, days from 1 to ${MAX_DAYS}, e.g. market_trades=30d,default=90d`,
    );
  }
  return { defaultDays, datasets };
}

/** The retention of `dataset` in days under `policy`; null keeps its files forever. */
export function retentionDaysOf(policy: RetentionPolicy, dataset: string): number | null {
  return policy.datasets.has(dataset) ? (policy.datasets.get(dataset) ?? null) : policy.defaultDays;
}

const DAY_NS = 86_400_000_000_000n;

/** Files whose newest event is before this instant (epoch ns) are due under a retention of `days`. */
export function retentionCutoffNs(days: number, nowNs: bigint): bigint {
  return nowNs - BigInt(days) * DAY_NS;
}
