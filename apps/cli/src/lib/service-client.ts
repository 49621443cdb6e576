import { CliError, EXIT } from './cli-error';
import type { ServiceName } from './endpoints';

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | undefined>;
  /** Statuses the caller handles itself instead of a {@link CliError}. */
  accept?: number[];
  /** Abort a request that has not answered (headers) within this long; none for streams. */
  timeoutMs?: number | null;
}

/** The message of an error answer: `message` of a JSON body (joined when a list), else the text itself. */
export function answerMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown };
    const message = Array.isArray(parsed.message) ? parsed.message.join('; ') : parsed.message;
    if (typeof message === 'string' && message !== '') return message;
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: the text itself
  }
  return body.trim().slice(0, 300);
}

/** What a refusal or failure answer means to the operator, as one line. */
export function refusal(
  service: ServiceName,
  baseUrl: string,
  status: number,
  body: string,
  hasKey: boolean,
): CliError {
  const where = `${service} at ${baseUrl}`;
  const message = answerMessage(body);
  if (status === 401) {
    return new CliError(
      hasKey
        ? `${where} refused the key (401)`
        : `${where} asks for a key (401): set TRIBUTARY_API_KEY, --api-key or apiKey in the config file`,
      EXIT.failed,
    );
  }
  if (status === 403)
    return new CliError(
      `${where} refused: the key lacks the scope (403)${message ? `: ${message}` : ''}`,
      EXIT.failed,
    );
  return new CliError(`${where} answered ${status}${message ? `: ${message}` : ''}`, EXIT.failed);
}

/** What a request that got no answer at all means, as one line (exit 3). */
export function unreachable(service: ServiceName, baseUrl: string, error: unknown): CliError {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const name = (error as { name?: string }).name;
  const why =
    name === 'TimeoutError'
      ? 'no answer in time'
      : cause?.code === 'ECONNREFUSED'
        ? 'connection refused'
        : cause?.code === 'ENOTFOUND'
          ? 'unknown host'
          : (cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error)));
  return new CliError(`${service} at ${baseUrl} is unreachable (${why})`, EXIT.unreachable);
}

/** One service's HTTP API, with the key on every request and failures mapped to {@link CliError}s. */
export class ServiceClient {
  constructor(
    readonly service: ServiceName,
    readonly baseUrl: string,
    private readonly apiKey: string | undefined,
    private readonly defaultTimeoutMs = 30_000,
  ) {}

  url(path: string, query: Record<string, string | undefined> = {}): URL {
    const url = new URL(path, `${this.baseUrl}/`);
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(name, value);
    return url;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.apiKey ? { authorization: `Bearer ${this.apiKey}`, ...extra } : extra;
  }

  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const timeoutMs = options.timeoutMs === undefined ? this.defaultTimeoutMs : options.timeoutMs;
    let response: Response;
    try {
      response = await fetch(this.url(path, options.query), {
        method,
        headers: this.headers(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: timeoutMs === null ? undefined : AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw unreachable(this.service, this.baseUrl, error);
    }
    if (response.status >= 400 && !(options.accept ?? []).includes(response.status)) {
      const body = await response.text().catch(() => '');
      throw refusal(this.service, this.baseUrl, response.status, body, this.apiKey !== undefined);
    }
    return response;
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    const body = await response.text();
    if (body === '') return undefined as T;
    try {
      return JSON.parse(body) as T;
    } catch {
      throw new CliError(
        `${this.service} at ${this.baseUrl} answered ${response.status} with a body that is not JSON`,
        EXIT.failed,
      );
    }
  }
}
