import { InFlightLimiter } from './in-flight-limiter';

describe('in-flight bound of the ingestion bridge', () => {
  it('admits events up to the capacity, refuses a batch that does not fit without reserving part of it, and frees room on release', () => {
    const limiter = new InFlightLimiter(10);
    expect(limiter.tryAcquire(6)).toBe(true);
    expect(limiter.tryAcquire(5)).toBe(false);
    expect(limiter.current).toBe(6);
    expect(limiter.tryAcquire(4)).toBe(true);
    limiter.release(6);
    expect(limiter.tryAcquire(6)).toBe(true);
    expect(limiter.current).toBe(10);
  });
});
