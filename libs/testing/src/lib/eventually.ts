/**
 * How long a test waits for a condition unless it says otherwise. A condition that normally holds
 * within a second can take many times that on a busy CI machine with two cores, so the deadline is
 * far above what a healthy run needs: it only decides how soon a broken run fails.
 */
export const DEFAULT_WAIT_MS = 60_000;

const POLL_INTERVAL_MS = 100;

type Condition<T> = () => T | Promise<T>;

/**
 * Polls `condition` until it returns a truthy value, and returns that value. A condition that throws
 * counts as not met yet. After `timeoutMs` it fails naming `what` was awaited and the last error seen.
 */
export function eventually<T>(condition: Condition<T>, what: string, timeoutMs?: number): Promise<T>;
/** The same with the deadline first. */
export function eventually<T>(condition: Condition<T>, timeoutMs?: number, what?: string): Promise<T>;
export async function eventually<T>(
  condition: Condition<T>,
  whatOrTimeout?: string | number,
  timeoutOrWhat?: number | string,
): Promise<T> {
  const [what, timeoutMs] =
    typeof whatOrTimeout === 'number'
      ? [timeoutOrWhat as string | undefined, whatOrTimeout]
      : [whatOrTimeout, timeoutOrWhat as number | undefined];
  return pollUntil(condition, what ?? 'a condition', timeoutMs ?? DEFAULT_WAIT_MS);
}

async function pollUntil<T>(condition: Condition<T>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  const cause =
    lastError === undefined
      ? ''
      : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
}
