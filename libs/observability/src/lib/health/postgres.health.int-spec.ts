import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { Client } from 'pg';
import { eventually, TcpProxy, unusedPort, stackDatabaseUrl } from '@tributary/testing';
import { PostgresHealthIndicator } from './postgres.health';

const databaseUrl = stackDatabaseUrl();
/** The stack's database (tools/infra gives each stack its own): the probe's target names it. */
const databaseName = new URL(databaseUrl).pathname.slice(1);
/** For probes that get an answer: long enough for a busy machine, never the reason a probe fails. */
const PROBE_TIMEOUT_MS = 30_000;

function withPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.hostname = '127.0.0.1';
  parsed.port = String(port);
  return parsed.toString();
}

async function connectionsNamed(applicationName: string): Promise<number> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
      [applicationName],
    );
    return Number(result.rows[0].n);
  } finally {
    await client.end();
  }
}

describe('PostgresHealthIndicator against the local PostgreSQL', () => {
  const indicators: PostgresHealthIndicator[] = [];
  const indicator = (connectionString: string, applicationName?: string, timeoutMs = PROBE_TIMEOUT_MS) => {
    const created = new PostgresHealthIndicator({ connectionString, timeoutMs, applicationName });
    indicators.push(created);
    return created;
  };

  afterEach(async () => {
    await Promise.all(indicators.splice(0).map((created) => created.close()));
  });

  it('PostgreSQL readiness is up against the local server and down with a clear error for a closed port', async () => {
    const up = await indicator(databaseUrl).isHealthy('postgres');
    expect(up).toMatchObject({
      postgres: { status: 'up', target: expect.stringMatching(new RegExp(`:\\d+/${databaseName}$`)) },
    });

    const port = await unusedPort();
    const down = await indicator(withPort(databaseUrl, port)).isHealthy('postgres');
    expect(down.postgres.status).toBe('down');
    expect(down.postgres['message']).toBe(
      `PostgreSQL 127.0.0.1:${port}/${databaseName}: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it('the error names the server but never shows the password of the connection URL', async () => {
    const port = await unusedPort();
    const down = await indicator(`postgres://tributary:hunter2@127.0.0.1:${port}/tributary`).isHealthy();
    expect(JSON.stringify(down)).not.toContain('hunter2');
    expect(down.postgres['target']).toBe(`127.0.0.1:${port}/tributary`);
  });

  it('reports whether wal_level is logical when asked', async () => {
    const client = new Client({ connectionString: databaseUrl });
    await client.connect();
    const walLevel = (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0].wal_level;
    await client.end();

    const result = await indicator(databaseUrl).isHealthy('replication', { requireLogicalWal: true });
    expect(result.replication).toMatchObject({ walLevel, logicalReplication: walLevel === 'logical' });
    if (walLevel === 'logical') {
      expect(result.replication.status).toBe('up');
    } else {
      expect(result.replication.status).toBe('down');
      expect(result.replication['message']).toContain(`wal_level is '${walLevel}'`);
    }
  });

  it('repeated and overlapping checks hold at most one connection, and closing releases it', async () => {
    const applicationName = `tributary-health-${randomUUID().slice(0, 8)}`;
    const probe = indicator(databaseUrl, applicationName);
    for (let round = 0; round < 5; round += 1) {
      const results = await Promise.all(Array.from({ length: 4 }, () => probe.isHealthy()));
      expect(results.every((result) => result.postgres.status === 'up')).toBe(true);
    }
    expect(await connectionsNamed(applicationName)).toBe(1);
    await probe.close();
    // The backend process goes away just after the client disconnects.
    await eventually(
      async () => (await connectionsNamed(applicationName)) === 0,
      'the backend of the closed probe to end',
    );
    expect(await connectionsNamed(applicationName)).toBe(0);
  });

  it('a server that accepts connections but never answers is reported down as a timeout and the connection dropped', async () => {
    const open = new Set<Socket>();
    const silent = createServer((socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.resume(); // read, so the client's close is seen
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const down = await indicator(withPort(databaseUrl, port), undefined, 300).isHealthy();
      expect(down.postgres.status).toBe('down');
      expect(String(down.postgres['message'])).toMatch(
        new RegExp(
          `^PostgreSQL 127\\.0\\.0\\.1:${port}/${databaseName}.*(did not answer within 300 ms|timeout)`,
        ),
      );
      await eventually(() => open.size === 0, 'the timed-out connection to be dropped');
      expect(open.size).toBe(0);
    } finally {
      for (const socket of open) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('readiness goes down when PostgreSQL becomes unreachable and comes back up by itself', async () => {
    const server = new URL(databaseUrl);
    const proxy = new TcpProxy(server.hostname, Number(server.port || 5432));
    await proxy.open();
    try {
      const probe = indicator(withPort(databaseUrl, proxy.port));
      expect((await probe.isHealthy()).postgres.status).toBe('up');

      await proxy.cut();
      const down = await probe.isHealthy();
      expect(down.postgres.status).toBe('down');
      expect(String(down.postgres['message'])).toContain(
        `PostgreSQL 127.0.0.1:${proxy.port}/${databaseName}`,
      );

      await proxy.open();
      expect((await probe.isHealthy()).postgres.status).toBe('up');
    } finally {
      await proxy.cut();
    }
  });
});
