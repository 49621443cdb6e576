import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root, found from this file so tests run from any working directory. */
export const workspaceRoot = resolve(__dirname, '../../../..');

/** Folder where `tools/infra/up` keeps pids, logs, data and the generated `env` file. */
export function infraDir(): string {
  return process.env['TRIBUTARY_INFRA_DIR'] ?? join(workspaceRoot, '.infra');
}

/** Reads the `KEY=value` lines that `tools/infra/up` writes, without touching process.env. */
export function readInfraEnv(): Record<string, string> {
  const file = join(infraDir(), 'env');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run tools/infra/up first`);
  }
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]] = match[2].replace(/^['"]|['"]$/g, '');
  }
  return env;
}

/**
 * This stack's database (`tools/infra` gives each infra folder its own): `DATABASE_URL` when the
 * caller set it (the integration tests' global setup copies it from `.infra/env`), else the one in
 * `.infra/env`. Never the services' default database, which another stack may own.
 */
export function stackDatabaseUrl(): string {
  const url = process.env['DATABASE_URL'] || readInfraEnv()['DATABASE_URL'];
  if (!url)
    throw new Error(
      `DATABASE_URL is neither set nor in ${join(infraDir(), 'env')}: run tools/infra/up postgres`,
    );
  return url;
}

/** Runs one of the `tools/infra` scripts (`up`, `down`, `status`) and returns its output. */
export function infra(command: 'up' | 'down' | 'status', ...components: string[]): string {
  return execFileSync('bash', [join(workspaceRoot, 'tools/infra', command), ...components], {
    cwd: workspaceRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 600_000,
  });
}
