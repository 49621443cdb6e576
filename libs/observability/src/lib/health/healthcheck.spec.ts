import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { healthcheckUrl, probeHealth } from './http-probe';

const script = join(__dirname, '../../bin/healthcheck.ts');
/** Each run of the script starts a Node process that compiles it first: seconds of CPU for the five runs. */
const SCRIPT_RUNS_TIMEOUT_MS = 60_000;

function runHealthcheck(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', '@swc-node/register', script, ...args],
      { env: { ...process.env, PORT: '', ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

describe('container health check', () => {
  let server: Server;
  let port: number;
  let liveStatus = 200;

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/health/live' ? liveStatus : req.url === '/health/ready' ? 503 : 404;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('requests /health/live on 127.0.0.1:$PORT unless given a path or a URL', () => {
    expect(healthcheckUrl(undefined, { PORT: '3101' })).toBe('http://127.0.0.1:3101/health/live');
    expect(healthcheckUrl('/health/ready', { PORT: '3101' })).toBe('http://127.0.0.1:3101/health/ready');
    expect(healthcheckUrl('http://10.0.0.1:80/x', {})).toBe('http://10.0.0.1:80/x');
    expect(() => healthcheckUrl(undefined, {})).toThrow('PORT must be set');
  });

  it('a probe passes on 2xx and fails on other statuses and on refused connections', async () => {
    await expect(probeHealth(`http://127.0.0.1:${port}/health/live`)).resolves.toMatchObject({
      ok: true,
      statusCode: 200,
    });
    await expect(probeHealth(`http://127.0.0.1:${port}/health/ready`)).resolves.toMatchObject({
      ok: false,
      statusCode: 503,
    });
    const refused = await probeHealth('http://127.0.0.1:1/health/live');
    expect(refused.ok).toBe(false);
    expect(refused.detail).toContain('ECONNREFUSED');
  });

  it('a probe fails when the server does not answer in time', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const result = await probeHealth(
        `http://127.0.0.1:${(silent.address() as AddressInfo).port}/health/live`,
        50,
      );
      expect(result).toMatchObject({ ok: false });
      expect(result.detail).toContain('no answer within 50 ms');
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('the script exits 0 while the service is live and 1 when it is not or nothing listens', async () => {
    liveStatus = 200;
    expect((await runHealthcheck([], { PORT: String(port) })).code).toBe(0);
    liveStatus = 500;
    expect((await runHealthcheck([], { PORT: String(port) })).code).toBe(1);
    const notReady = await runHealthcheck(['/health/ready'], { PORT: String(port) });
    expect(notReady).toMatchObject({ code: 1 });
    expect(notReady.output).toContain('answered 503');
    expect((await runHealthcheck([], { PORT: '1' })).code).toBe(1);
    expect((await runHealthcheck([], {})).output).toContain('PORT must be set');
  }, SCRIPT_RUNS_TIMEOUT_MS);
});
