import type { Logger } from 'pino';
import { AlpacaFatalError, AlpacaHttpError, AlpacaUnavailableError } from './alpaca-errors';

export interface AlpacaCredentials {
  readonly keyId: string;
  readonly secretKey: string;
}

export interface AlpacaHttpOptions {
  readonly credentials: AlpacaCredentials;
  /** Attempts of one request on 429, 5xx and network failures before it gives up; default 8. */
  readonly maxAttempts?: number;
  /** First wait after a failure when the server gives no Retry-After; doubles up to `retryMaxMs`. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Time allowed for one request; default 30 s. */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
  /** Draws in [0, 1) for the jitter; tests pass a fixed one. */
  readonly random?: () => number;
  /** Waits between attempts (a timer by default); tests pass one that records the waits. */
  readonly wait?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

type Query = Record<string, string | number | undefined>;

/**
 * GET requests to Alpaca's REST APIs (trading and market data): authenticates with the key headers,
 * backs off and retries on 429 (honouring Retry-After) and on 5xx or network failures, and turns any
 * other 4xx into an error naming the path, status and Alpaca's message. Credentials never appear in
 * logs or errors: only the path and query (which hold no secret) are ever shown.
 */
export class AlpacaHttpClient {
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Requests retried after a 429, for /status and tests. */
  rateLimited = 0;

  constructor(private readonly options: AlpacaHttpOptions) {
    this.maxAttempts = options.maxAttempts ?? 8;
    this.retryBaseMs = options.retryBaseMs ?? 500;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.random = options.random ?? Math.random;
    this.wait = options.wait ?? sleep;
  }

  async getJson<T>(baseUrl: string, path: string, query: Query = {}, signal?: AbortSignal): Promise<T> {
    const url = new URL(baseUrl);
    url.pathname = joinPath(url.pathname, path);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
    const shown = `GET ${url.pathname}${url.search}`;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let response: Response;
      try {
        response = await fetch(url, {
          headers: {
            'APCA-API-KEY-ID': this.options.credentials.keyId,
            'APCA-API-SECRET-KEY': this.options.credentials.secretKey,
            Accept: 'application/json',
          },
          signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]) : AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        signal?.throwIfAborted();
        if (attempt >= this.maxAttempts) {
          throw new AlpacaUnavailableError(`${shown} failed ${attempt} times; last: ${describe(error)}`, undefined);
        }
        const waitMs = this.backoffMs(attempt);
        this.options.logger?.warn({ request: shown, attempt, waitMs, reason: describe(error) }, 'Alpaca did not answer; retrying');
        await this.wait(waitMs, signal);
        continue;
      }
      if (response.ok) return (await response.json()) as T;
      const message = await alpacaMessage(response);
      if (response.status === 429 || response.status >= 500) {
        if (attempt >= this.maxAttempts) {
          throw new AlpacaUnavailableError(`${shown} answered ${response.status} ${attempt} times; last: ${message}`, response.status);
        }
        if (response.status === 429) this.rateLimited++;
        const waitMs = retryAfterMs(response.headers.get('retry-after')) ?? this.backoffMs(attempt);
        this.options.logger?.warn(
          { request: shown, status: response.status, attempt, waitMs },
          response.status === 429 ? 'Alpaca rate limit reached; backing off' : 'Alpaca server error; retrying',
        );
        await this.wait(Math.min(waitMs, this.retryMaxMs), signal);
        continue;
      }
      if (response.status === 401 || response.status === 403) {
        throw new AlpacaFatalError(
          `${shown} was refused with ${response.status} (${message}): check ALPACA_API_KEY_ID, ALPACA_API_SECRET_KEY and that the account's plan includes this API`,
          response.status,
        );
      }
      throw new AlpacaHttpError(`${shown} answered ${response.status}: ${message}`, response.status, url.pathname);
    }
  }

  /** Exponential backoff with full jitter in its upper half: base * 2^(attempt-1) * [0.5, 1). */
  private backoffMs(attempt: number): number {
    const ceiling = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(attempt - 1, 20));
    return Math.round(ceiling * (0.5 + this.random() / 2));
  }
}

function joinPath(basePath: string, path: string): string {
  return `${basePath.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** Retry-After as seconds or as an HTTP date. */
export function retryAfterMs(header: string | null, nowMs = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

async function alpacaMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: show the start of the text
  }
  return text.slice(0, 200) || response.statusText || 'no message';
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
