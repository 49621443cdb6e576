import { assertRetryPolicy, retryDelayMs, retrySchedule, type RetryPolicy } from './retry-policy';

const policy: RetryPolicy = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 2_000, jitter: 0 };

describe('retry policy', () => {
  it('waits the base delay after the first failure and doubles it after each further one', () => {
    expect([1, 2, 3, 4].map((failures) => retryDelayMs(policy, failures))).toEqual([200, 400, 800, 1600]);
  });

  it('never waits longer than the maximum delay', () => {
    expect(retryDelayMs(policy, 5)).toBe(2_000);
    expect(retryDelayMs(policy, 60)).toBe(2_000);
    expect(retryDelayMs(policy, 5_000)).toBe(2_000);
  });

  it('lists one delay between each pair of attempts', () => {
    expect(retrySchedule(policy)).toEqual([200, 400, 800, 1600, 2000]);
    expect(retrySchedule({ ...policy, maxAttempts: 1 })).toEqual([]);
  });

  it('jitter only shortens a delay, by at most its fraction', () => {
    const jittered = { ...policy, jitter: 0.25 };
    expect(retryDelayMs(jittered, 3, () => 0)).toBe(800);
    expect(retryDelayMs(jittered, 3, () => 0.999999)).toBe(600);
    expect(retryDelayMs(jittered, 3, () => 0.5)).toBe(700);
  });

  it('refuses a policy without attempts or with a maximum below the base delay', () => {
    expect(() => assertRetryPolicy({ ...policy, maxAttempts: 0 })).toThrow(/maxAttempts/);
    expect(() => assertRetryPolicy({ ...policy, maxAttempts: 1.5 })).toThrow(/maxAttempts/);
    expect(() => assertRetryPolicy({ ...policy, maxDelayMs: 100 })).toThrow(/baseDelayMs <= maxDelayMs/);
    expect(() => assertRetryPolicy(policy)).not.toThrow();
  });
});
