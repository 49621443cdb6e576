// Used by the container health check script: node:http only, so the bundle stays tiny.
import { request } from 'node:http';

export const DEFAULT_HEALTHCHECK_PATH = '/health/live';

export interface ProbeResult {
  readonly ok: boolean;
  readonly statusCode?: number;
  /** Why the probe failed, or the status line when it passed. */
  readonly detail: string;
}

/**
 * The URL the container health check requests: the argument when it is a full URL, otherwise
 * `http://127.0.0.1:$PORT` followed by the argument as a path (default `/health/live`).
 */
export function healthcheckUrl(
  argument: string | undefined,
  environment: Readonly<Record<string, string | undefined>>,
): string {
  if (argument && /^https?:\/\//.test(argument)) return argument;
  const port = environment['PORT'];
  if (!port || !/^\d{1,5}$/.test(port)) {
    throw new Error(`PORT must be set to the service's HTTP port (got ${JSON.stringify(port ?? '')})`);
  }
  const path = argument || DEFAULT_HEALTHCHECK_PATH;
  return `http://127.0.0.1:${port}${path.startsWith('/') ? path : `/${path}`}`;
}

/** GETs `url`; ok when it answers 2xx within `timeoutMs`. Never rejects. */
export function probeHealth(url: string, timeoutMs = 5000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      const statusCode = res.statusCode ?? 0;
      resolve({
        ok: statusCode >= 200 && statusCode < 300,
        statusCode,
        detail: `${url} answered ${statusCode}`,
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) =>
      resolve({ ok: false, detail: `${url}: ${error.message || (error as { code?: string }).code}` }),
    );
    req.end();
  });
}
