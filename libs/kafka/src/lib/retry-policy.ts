/**
 * How a consumer retries a record whose handler fails: `maxAttempts` tries in all, waiting
 * `baseDelayMs` after the first failure and twice as long after each further one, never more
 * than `maxDelayMs`. A little jitter keeps the consumers of a group from retrying in lockstep
 * against a dependency that is coming back.
 */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Fraction of each delay that is random, 0 (none) to 1; default 0.1. */
  readonly jitter?: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 30_000,
  jitter: 0.1,
};

/** Trying to reach the cluster again (joining a group, creating topics): 250 ms doubling to 5 s, without end. */
export const RECONNECT_BACKOFF: RetryPolicy = { maxAttempts: Number.MAX_SAFE_INTEGER, baseDelayMs: 250, maxDelayMs: 5_000, jitter: 0.2 };

/**
 * The wait before attempt `failedAttempts + 1`, after `failedAttempts` (>= 1) failures.
 * `random` returns a number in [0, 1), as Math.random does; jitter only ever shortens the wait.
 */
export function retryDelayMs(policy: RetryPolicy, failedAttempts: number, random: () => number = Math.random): number {
  const exponent = Math.max(0, failedAttempts - 1);
  // 2^exponent overflows to Infinity long after it passes any sane maxDelayMs; min() caps it.
  const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  const jitter = Math.min(1, Math.max(0, policy.jitter ?? 0.1));
  return Math.round(delay * (1 - jitter * random()));
}

/** Every wait between the attempts of one record, without jitter: `maxAttempts - 1` delays. */
export function retrySchedule(policy: RetryPolicy): number[] {
  const steady = { ...policy, jitter: 0 };
  return Array.from({ length: Math.max(0, policy.maxAttempts - 1) }, (_, index) => retryDelayMs(steady, index + 1));
}

/** Checks a policy once, when a consumer is built, so a bad value fails at boot. */
export function assertRetryPolicy(policy: RetryPolicy): void {
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1) {
    throw new RangeError(`retry maxAttempts must be a whole number >= 1 (got ${policy.maxAttempts})`);
  }
  if (!(policy.baseDelayMs >= 0) || !(policy.maxDelayMs >= policy.baseDelayMs)) {
    throw new RangeError(
      `retry delays must satisfy 0 <= baseDelayMs <= maxDelayMs (got ${policy.baseDelayMs}, ${policy.maxDelayMs})`,
    );
  }
}
