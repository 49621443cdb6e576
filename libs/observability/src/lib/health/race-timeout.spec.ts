import { describeError, raceTimeout, TimeoutError } from './race-timeout';

describe('raceTimeout', () => {
  it('resolves with the value of a promise that settles in time', async () => {
    await expect(raceTimeout(Promise.resolve('pong'), 1000, 'PostgreSQL')).resolves.toBe('pong');
  });

  it('passes through the rejection of a promise that fails in time', async () => {
    await expect(raceTimeout(Promise.reject(new Error('ECONNREFUSED')), 1000, 'PostgreSQL')).rejects.toThrow(
      'ECONNREFUSED',
    );
  });

  it('rejects with an error naming what did not answer when the promise never settles', async () => {
    const never = new Promise<never>(() => undefined);
    const error = await raceTimeout(never, 20, "S3 bucket 'archive'").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toBe("S3 bucket 'archive' did not answer within 20 ms");
    expect((error as TimeoutError).what).toBe("S3 bucket 'archive'");
  });

  it('leaves no timer behind once the promise has settled', async () => {
    jest.useFakeTimers();
    try {
      const pending = raceTimeout(Promise.resolve(1), 60_000, 'x');
      await pending;
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('describeError', () => {
  it('spells out the causes Node hides in an AggregateError with an empty message', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const refused6 = Object.assign(new Error('connect ECONNREFUSED ::1:1'), { code: 'ECONNREFUSED' });
    expect(describeError(new AggregateError([refused, refused6], ''))).toBe(
      'connect ECONNREFUSED 127.0.0.1:1; connect ECONNREFUSED ::1:1',
    );
  });

  it('falls back to the error code when the message is empty', () => {
    expect(describeError(Object.assign(new Error(''), { code: 'ETIMEDOUT' }))).toBe('ETIMEDOUT');
  });
});
