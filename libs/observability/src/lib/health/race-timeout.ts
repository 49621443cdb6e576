/** How long a readiness probe waits for a dependency before reporting it down. */
export const DEFAULT_PROBE_TIMEOUT_MS = 3000;

/** A dependency did not answer in time; `what` names it (e.g. "PostgreSQL 10.0.0.5:5432"). */
export class TimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`${what} did not answer within ${timeoutMs} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Settles like `promise`, or rejects with a {@link TimeoutError} naming `what` after `ms`
 * milliseconds. The timer is cleared as soon as `promise` settles, so nothing lingers; the
 * caller stays responsible for cancelling the work itself (e.g. with an AbortSignal).
 */
export function raceTimeout<T>(promise: PromiseLike<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** A one-line reason for an error, including the causes Node hides in an AggregateError. */
export function describeError(error: unknown): string {
  // Duck-typed rather than `instanceof`: errors from Node's internals may come from another realm.
  if (typeof error !== 'object' || error === null) return String(error);
  const { message, code, name, errors } = error as {
    message?: unknown;
    code?: unknown;
    name?: unknown;
    errors?: unknown;
  };
  if (Array.isArray(errors) && errors.length > 0) {
    const causes = [...new Set(errors.map(describeError))].join('; ');
    return typeof message === 'string' && message !== '' ? `${message}: ${causes}` : causes;
  }
  if (typeof message === 'string' && message !== '') return message;
  if (typeof code === 'string') return code;
  return typeof name === 'string' ? name : String(error);
}
