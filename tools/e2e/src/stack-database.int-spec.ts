import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { stackDatabaseUrl, workspaceRoot } from '@tributary/testing';

// tools/infra against the machine's real PostgreSQL, each stack in a temporary infra folder (only
// the postgres component: no broker or S3 server is started): one database per stack, marked with
// its folder; the databases of stacks that are gone collected with their replication slots; a purge
// that says what it removes.

const run = `${process.pid}_${Date.now().toString(36)}`;
const folders: string[] = [];

function newFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-stack-test-'));
  folders.push(dir);
  return dir;
}

/** Runs a tools/infra script for the stack in `dir`; returns what it printed (stdout and stderr). */
function infra(dir: string, command: 'up' | 'down' | 'status', ...args: string[]): string {
  const result = spawnSync('bash', [join(workspaceRoot, 'tools/infra', command), ...args], {
    cwd: workspaceRoot,
    env: { ...process.env, TRIBUTARY_INFRA_DIR: dir },
    encoding: 'utf8',
    timeout: 300_000,
  });
  const output = `${result.stdout}${result.stderr}`;
  if (result.status !== 0)
    throw new Error(`tools/infra/${command} ${args.join(' ')} failed (${result.status}):\n${output}`);
  return output;
}

function databaseUrlOf(dir: string): string {
  const line = readFileSync(join(dir, 'env'), 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('DATABASE_URL='));
  if (!line) throw new Error(`no DATABASE_URL in ${dir}/env`);
  return line.slice('DATABASE_URL='.length);
}

const databaseOf = (dir: string) => new URL(databaseUrlOf(dir)).pathname.slice(1);
const stackIdOf = (dir: string) => readFileSync(join(dir, 'stack-id'), 'utf8').trim();

describe('one database per local stack (tools/infra on the real PostgreSQL)', () => {
  // Any database of the server answers questions about all of them: this stack's own.
  const admin = new Client({ connectionString: stackDatabaseUrl() });

  async function comment(database: string): Promise<string | null | undefined> {
    const result = await admin.query<{ comment: string | null }>(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
      [database],
    );
    return result.rows.length === 0 ? undefined : result.rows[0]?.comment;
  }

  async function slotsOf(database: string): Promise<string[]> {
    const result = await admin.query<{ slot_name: string }>(
      'SELECT slot_name FROM pg_replication_slots WHERE database = $1',
      [database],
    );
    return result.rows.map((row) => row.slot_name);
  }

  /** A logical slot in `database`, as the cdc-listener of that stack would leave it. */
  async function createSlot(database: string, slot: string): Promise<void> {
    const url = new URL(stackDatabaseUrl());
    url.pathname = `/${database}`;
    const client = new Client({ connectionString: url.toString() });
    await client.connect();
    try {
      await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    for (const dir of folders) {
      if (existsSync(join(dir, 'postgres', 'database'))) {
        try {
          infra(dir, 'down', '--purge', 'postgres');
        } catch (error) {
          process.stderr.write(`${String(error)}\n`);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
    await admin.end();
  });

  it('a new infra folder gets a stack id once and its own database, marked with the folder, its URL in .infra/env', async () => {
    const dir = newFolder();
    const first = infra(dir, 'up', 'postgres');
    const id = stackIdOf(dir);
    expect(id).toMatch(/^[0-9a-f]{8}$/);
    expect(databaseUrlOf(dir)).toBe(`postgres://postgres@127.0.0.1:5432/tributary_${id}`);
    expect(first).toContain(`creating database tributary_${id} (stack ${id})`);
    expect(await comment(`tributary_${id}`)).toBe(`tributary stack ${id} ${dir}`);
    expect(infra(dir, 'status', 'postgres')).toContain(`database tributary_${id} present`);

    const again = infra(dir, 'up', 'postgres');
    expect(stackIdOf(dir)).toBe(id);
    expect(databaseUrlOf(dir)).toBe(`postgres://postgres@127.0.0.1:5432/tributary_${id}`);
    expect(again).not.toContain('creating database');
  });

  it('a second folder gets another database; once its folder is deleted, the next up drops that database and its replication slots first', async () => {
    const kept = newFolder();
    const deleted = newFolder();
    infra(kept, 'up', 'postgres');
    infra(deleted, 'up', 'postgres');
    const orphan = databaseOf(deleted);
    expect(orphan).not.toBe(databaseOf(kept));
    const slot = `stack_test_${run}`;
    await createSlot(orphan, slot);
    rmSync(deleted, { recursive: true, force: true });

    const output = infra(kept, 'up', 'postgres');
    expect(output).toContain(`dropping replication slot ${slot} (database ${orphan})`);
    expect(output).toContain(`dropping database ${orphan}`);
    expect(await comment(orphan)).toBeUndefined();
    expect(await slotsOf(orphan)).toEqual([]);
    expect(await comment(databaseOf(kept))).toBe(`tributary stack ${stackIdOf(kept)} ${kept}`);
  });

  it('a folder deleted and made again is a new stack: it does not inherit the old database, which is collected', async () => {
    const dir = newFolder();
    infra(dir, 'up', 'postgres');
    const old = databaseOf(dir);
    rmSync(join(dir, 'stack-id'));
    rmSync(join(dir, 'postgres'), { recursive: true });
    rmSync(join(dir, 'env'));

    const output = infra(dir, 'up', 'postgres');
    expect(databaseOf(dir)).not.toBe(old);
    expect(output).toContain(`dropping database ${old}`);
    expect(await comment(old)).toBeUndefined();
  });

  it('down --purge ends the sessions of the stack database, drops its slots and the database, deletes the Kafka and S3 data, and says so', async () => {
    const dir = newFolder();
    infra(dir, 'up', 'postgres');
    const database = databaseOf(dir);
    const slot = `stack_purge_${run}`;
    await createSlot(database, slot);
    // A session of the stack's own services, still connected.
    const session = new Client({ connectionString: databaseUrlOf(dir) });
    session.on('error', () => undefined);
    await session.connect();
    mkdirSync(join(dir, 'kafka', 'data-4.4'), { recursive: true });
    writeFileSync(join(dir, 'kafka', 'data-4.4', 'meta.properties'), 'cluster.id=StackPurgeTestCluster0\n');
    mkdirSync(join(dir, 's3', 'data', 'tributary-archive'), { recursive: true });

    const output = infra(dir, 'down', '--purge');
    await session.end().catch(() => undefined);
    expect(output).toContain(
      `kafka: deleting ${dir}/kafka/data-4.4 (topics, consumer offsets, cluster id StackPurgeTestCluster0)`,
    );
    expect(output).toContain(`postgres: dropping replication slot ${slot} (database ${database})`);
    expect(output).toContain(`postgres: dropping database ${database}`);
    expect(output).toContain(`s3: deleting ${dir}/s3/data`);
    expect(await comment(database)).toBeUndefined();
    expect(await slotsOf(database)).toEqual([]);
    expect(existsSync(join(dir, 'kafka', 'data-4.4'))).toBe(false);
    expect(existsSync(join(dir, 's3', 'data'))).toBe(false);

    // The next up brings the same stack back, empty.
    infra(dir, 'up', 'postgres');
    expect(databaseOf(dir)).toBe(database);
    expect(await comment(database)).toBe(`tributary stack ${stackIdOf(dir)} ${dir}`);
  });

  it('a folder from before stack ids keeps the database its env names, unless another live stack took it first', async () => {
    const legacy = `tributary_legacy_${run}`;
    const first = newFolder();
    const second = newFolder();
    for (const dir of [first, second])
      writeFileSync(join(dir, 'env'), `DATABASE_URL=postgres://postgres@127.0.0.1:5432/${legacy}\n`);

    infra(first, 'up', 'postgres');
    expect(databaseOf(first)).toBe(legacy);
    expect(await comment(legacy)).toBe(`tributary stack ${stackIdOf(first)} ${first}`);

    const output = infra(second, 'up', 'postgres');
    expect(databaseOf(second)).toBe(`tributary_${stackIdOf(second)}`);
    expect(output).toContain(`database ${legacy} belongs to the stack in ${first}`);
  });
});
