/**
 * Budgets that keep one query, or many at once, from taking the service down: the bytes of
 * archive objects one query may read (known from the catalog before anything is fetched), and
 * the queries running at once, per service and per caller.
 */

/** A request refused because it would exceed a budget: 429 naming the budget. */
export class BudgetExceeded extends Error {
  constructor(
    /** The setting that holds the budget, e.g. `HISTORY_QUERY_MAX_BYTES`. */
    readonly budget: string,
    /** The budget's value. */
    readonly limit: number,
    message: string,
    /** Seconds to wait before asking again; null when asking again unchanged cannot succeed. */
    readonly retryAfterSeconds: number | null,
    /** The request parameter to change, when narrowing it is the way out. */
    readonly parameter: string | null = null,
  ) {
    super(message);
  }
}

/** A file a query would read, as the catalog knows it. */
export interface BudgetedFile {
  bytes: number;
  rows: number;
  /** Smallest event time in the file, epoch ns. */
  minEventTimeNs: bigint;
}

/** Refuses, before anything is downloaded, a query whose files hold more than `maxBytes` bytes. */
export function checkByteBudget(files: readonly { bytes: number }[], maxBytes: number, budget: string): void {
  const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
  if (bytes <= maxBytes) return;
  throw new BudgetExceeded(
    budget,
    maxBytes,
    `this query would read ${bytes} bytes of archive files (${files.length} files); one query reads at most ${maxBytes} bytes (${budget}): ` +
      'narrow it with a shorter from/to range or symbols, or page with limit and from',
    null,
    'from',
  );
}

/**
 * The files to read first for a query with `limit`, in event-time order: enough files that their
 * rows could hold `limit` (by the catalog's counts), plus every further file starting at the same
 * event time as the last one taken. {@link filesStartingBy} then tells which of the rest can still
 * hold one of the first `limit` rows.
 */
export function firstFilesFor<F extends BudgetedFile>(ordered: readonly F[], limit: number): F[] {
  let rows = 0;
  let taken = 0;
  while (taken < ordered.length && rows < limit) rows += (ordered[taken++] as F).rows;
  const last = ordered[taken - 1];
  while (
    last !== undefined &&
    taken < ordered.length &&
    (ordered[taken] as F).minEventTimeNs <= last.minEventTimeNs
  )
    taken++;
  return ordered.slice(0, taken);
}

/** Files whose first event is at or before `ns`: the only ones that can hold a row ordered at or before it. */
export function filesStartingBy<F extends BudgetedFile>(files: readonly F[], ns: bigint): F[] {
  return files.filter((f) => f.minEventTimeNs <= ns);
}

export interface ConcurrencyLimits {
  /** Queries running at once in this instance. */
  maxConcurrent: number;
  /** Queries of one caller (the authenticated principal) running at once. */
  maxConcurrentPerCaller: number;
  /** Names of the two settings, for refusals. */
  names: { service: string; perCaller: string };
}

/** Queries running at once, per service and per caller; a query beyond either is refused, never queued. */
export class QueryConcurrency {
  private running = 0;
  private readonly perCaller = new Map<string, number>();

  constructor(private readonly limits: ConcurrencyLimits) {}

  /** Queries running now. */
  get active(): number {
    return this.running;
  }

  /**
   * A slot for one query of `caller` (null: no principal, only the service budget applies), or a
   * {@link BudgetExceeded} naming the budget it would exceed. Call the returned function once done.
   */
  enter(caller: string | null): () => void {
    const { maxConcurrent, maxConcurrentPerCaller, names } = this.limits;
    const mine = caller === null ? 0 : (this.perCaller.get(caller) ?? 0);
    if (caller !== null && mine >= maxConcurrentPerCaller) {
      throw new BudgetExceeded(
        names.perCaller,
        maxConcurrentPerCaller,
        `${caller} has ${mine} queries running; one caller runs at most ${maxConcurrentPerCaller} at once (${names.perCaller}): ask again once one has finished`,
        1,
      );
    }
    if (this.running >= maxConcurrent) {
      throw new BudgetExceeded(
        names.service,
        maxConcurrent,
        `${this.running} queries are running; the service runs at most ${maxConcurrent} at once (${names.service}): ask again shortly`,
        1,
      );
    }
    this.running++;
    if (caller !== null) this.perCaller.set(caller, mine + 1);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.running--;
      if (caller === null) return;
      const now = (this.perCaller.get(caller) ?? 1) - 1;
      if (now > 0) this.perCaller.set(caller, now);
      else this.perCaller.delete(caller);
    };
  }
}
