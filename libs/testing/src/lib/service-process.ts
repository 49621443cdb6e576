import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { workspaceRoot } from './infra-env';
import { authHeaders, TEST_AUTH_API_KEYS } from './test-credentials';

/** A Tributary service started from its built bundle (`dist/apps/<app>/main.js`) as a child process. */
export interface ServiceProcess {
  readonly app: string;
  readonly baseUrl: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartServiceOptions {
  port: number;
  env?: Record<string, string | undefined>;
}

/** Starts `app`; it accepts the integration tests' key ({@link TEST_API_KEY}) unless `env` sets `AUTH_API_KEYS`. */
export function startService(app: string, options: StartServiceOptions): ServiceProcess {
  const main = join(workspaceRoot, 'dist/apps', app, 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build it first (npx nx build ${app})`);
  const child = spawn(process.execPath, ['--enable-source-maps', main], {
    cwd: workspaceRoot,
    env: { ...process.env, LOG_LEVEL: 'info', AUTH_API_KEYS: TEST_AUTH_API_KEYS, ...options.env, PORT: String(options.port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    app,
    baseUrl: `http://127.0.0.1:${options.port}`,
    child,
    output: () => output,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls `url` (with the integration tests' key) until it answers with `status`, or fails after `timeoutMs` with the last answer seen. */
export async function waitForHttpStatus(url: string, status: number, timeoutMs = 60_000): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { headers: authHeaders(), signal: AbortSignal.timeout(5_000) });
      const body = await response.text();
      last = `${response.status} ${body.slice(0, 500)}`;
      if (response.status === status) {
        try {
          return JSON.parse(body);
        } catch {
          return body;
        }
      }
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
}
