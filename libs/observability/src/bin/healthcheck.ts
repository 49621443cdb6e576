/**
 * Container health check (images ship no curl):
 *   node healthcheck.js [path | url]     e.g. `node healthcheck.js /health/ready`
 * GETs http://127.0.0.1:$PORT/health/live (or the given path or URL) and exits 0 on a 2xx
 * answer, 1 otherwise, printing the reason.
 */
import { healthcheckUrl, probeHealth } from '../lib/health/http-probe';

async function main(): Promise<number> {
  let url: string;
  try {
    url = healthcheckUrl(process.argv[2], process.env);
  } catch (error) {
    process.stderr.write(`healthcheck: ${(error as Error).message}\n`);
    return 1;
  }
  const timeoutMs = Number(process.env['HEALTHCHECK_TIMEOUT_MS'] ?? 5000);
  const result = await probeHealth(url, Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 5000);
  (result.ok ? process.stdout : process.stderr).write(`healthcheck: ${result.detail}\n`);
  return result.ok ? 0 : 1;
}

void main().then((code) => {
  process.exitCode = code;
});
