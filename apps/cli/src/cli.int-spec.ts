import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Client } from 'pg';
import { ClusterAdmin, kafkaConnection, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import {
  authorizedFetch,
  eventually,
  readInfraEnv,
  type ServiceProcess,
  startService,
  TEST_API_KEY,
  unusedPort,
  waitForHttpStatus,
  workspaceRoot,
} from '@tributary/testing';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const topic = `cli.it.${run}.market.trades`;
const dataset = topic.replace(/[^A-Za-z0-9_]/g, '_');
const launcher = join(workspaceRoot, 'apps/cli/bin/tributary.cjs');
/** An empty config file, so the settings of whoever runs the tests never apply. */
const configDir = mkdtempSync(join(tmpdir(), 'tributary-cli-config-'));
const configFile = join(configDir, 'config.json');
writeFileSync(configFile, '{}');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tributary args` as a child process, with the test key unless `env` says otherwise. */
function tributary(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [launcher, ...args],
      {
        cwd: workspaceRoot,
        env: {
          ...process.env,
          NODE_OPTIONS: '',
          TRIBUTARY_CONFIG: configFile,
          TRIBUTARY_API_KEY: TEST_API_KEY,
          ...env,
        },
        timeout: 150_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('the tributary CLI against the running services', () => {
  const connection = kafkaConnection(
    parseKafkaEnv({ KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'] }),
    `cli-it-${run}`,
  );
  const admin = new ClusterAdmin(connection);
  const producer = new TypedProducer(connection, { service: `cli-it-${run}`, validate: false });
  const dir = mkdtempSync(join(tmpdir(), 'tributary-cli-it-'));
  let hdm: ServiceProcess;
  let cep: ServiceProcess;
  let gateway: ServiceProcess;
  let urls: string[];
  // the trades archived: 40 trades of two symbols, one millisecond apart, in 2026-01-05 14:00 UTC
  const t0 = 1_767_621_600_000_000_000n;
  const trades = Array.from({ length: 40 }, (_, i) => ({
    symbol: i % 2 === 0 ? 'CLIA' : 'CLIB',
    price: 100 + i,
    size: 1 + (i % 5),
    exchange: 'Q',
    tradeId: `T${i}`,
    conditions: [],
    ts: (t0 + BigInt(i) * 1_000_000n).toString(),
  }));

  beforeAll(async () => {
    await admin.ensureConfigs([{ topic, numPartitions: 2 }]);
    await producer.connect();
    const [hdmPort, cepPort, gatewayPort] = [await unusedPort(), await unusedPort(), await unusedPort()];
    hdm = startService('historical-data-manager', {
      port: hdmPort,
      env: {
        LOG_LEVEL: 'warn',
        KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'],
        KAFKA_GROUP_ID: `cli-it-hdm-${run}`,
        DATABASE_URL: infraEnv['DATABASE_URL'],
        S3_ENDPOINT: infraEnv['S3_ENDPOINT'],
        S3_REGION: infraEnv['S3_REGION'],
        S3_ACCESS_KEY_ID: infraEnv['S3_ACCESS_KEY_ID'],
        S3_SECRET_ACCESS_KEY: infraEnv['S3_SECRET_ACCESS_KEY'],
        S3_BUCKET: 'tributary-test',
        S3_FORCE_PATH_STYLE: 'true',
        ARCHIVE_TOPICS: `${topic}:market.trades`,
        ARCHIVE_CATALOG_SCHEMA: `cli_it_${run}`,
        ARCHIVE_FLUSH_ROWS: '40',
        ARCHIVE_FLUSH_AGE_MS: '200ms',
        BATCH_THREADS: '1',
        BATCH_WORK_DIR: join(dir, 'batch'),
      },
    });
    cep = startService('cep-engine', {
      port: cepPort,
      env: {
        KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'],
        KAFKA_GROUP_ID: `cli-it-cep-${run}`,
        CEP_TOPIC_PREFIX: `cli-it-${run}.`,
        CEP_SEED_DEFAULT_RULES: 'false',
        LOG_LEVEL: 'warn',
      },
    });
    gateway = startService('kafka-gateway', {
      port: gatewayPort,
      env: {
        LOG_LEVEL: 'warn',
        KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'],
        KAFKA_GROUP_ID: `cli-it-gateway-${run}`,
        GATEWAY_APPLY_CATALOG_ON_START: 'false',
        GATEWAY_ENRICHMENT_ENABLED: 'false',
        GATEWAY_CANDLES_ENABLED: 'false',
        GATEWAY_QUALITY_ENABLED: 'false',
      },
    });
    urls = ['--hdm-url', hdm.baseUrl, '--cep-url', cep.baseUrl, '--gateway-url', gateway.baseUrl];
    for (const service of [hdm, cep, gateway]) {
      await waitForHttpStatus(`${service.baseUrl}/health/ready`, 200, 120_000).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${service.output().slice(-4000)}`);
      });
    }
    await producer.sendRaw(
      topic,
      trades.map((t) => ({ key: t.symbol, value: JSON.stringify(t), headers: { 'event.time': t.ts } })),
    );
    await eventually(
      async () => {
        const response = await authorizedFetch(`${hdm.baseUrl}/v1/datasets/${dataset}`);
        if (response.status !== 200) return false;
        const view = (await response.json()) as { rows?: number | string };
        return Number(view.rows ?? 0) >= trades.length;
      },
      `${trades.length} trades archived in ${dataset}`,
      120_000,
    );
  });

  afterAll(async () => {
    await Promise.all([hdm?.stop(), cep?.stop(), gateway?.stop()]);
    await producer.disconnect();
    const topics = (await admin.listTopics()).filter(
      (name) => name.startsWith(`cli-it-${run}.`) || name.startsWith(topic),
    );
    await admin.deleteTopics(topics).catch(() => undefined);
    await admin
      .deleteGroups([`cli-it-hdm-${run}`, `cli-it-cep-${run}`, `cli-it-gateway-${run}`])
      .catch(() => undefined);
    await admin.close();
    // The archive's catalog schema and objects of this run.
    const database = new Client({ connectionString: infraEnv['DATABASE_URL'] });
    await database.connect();
    await database.query(`DROP SCHEMA IF EXISTS "cli_it_${run}" CASCADE`).finally(() => database.end());
    const s3 = new S3Client({
      endpoint: infraEnv['S3_ENDPOINT'],
      region: infraEnv['S3_REGION'],
      forcePathStyle: true,
      credentials: {
        accessKeyId: infraEnv['S3_ACCESS_KEY_ID'] as string,
        secretAccessKey: infraEnv['S3_SECRET_ACCESS_KEY'] as string,
      },
    });
    for (;;) {
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: 'tributary-test', Prefix: `${dataset}/` }),
      );
      const keys = (listed.Contents ?? []).map((object) => ({ Key: object.Key as string }));
      if (keys.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: 'tributary-test', Delete: { Objects: keys } }));
    }
    s3.destroy();
    rmSync(dir, { recursive: true, force: true });
    rmSync(configDir, { recursive: true, force: true });
  });

  it('status shows the services it was pointed at as ready, with exit code 0', async () => {
    const result = await tributary([
      'status',
      '--services',
      'cep-engine,historical-data-manager',
      '--json',
      ...urls,
    ]);
    expect(result).toMatchObject({ code: 0 });
    const all = JSON.parse(result.stdout) as { service: string; state: string }[];
    expect(all.map((s) => [s.service, s.state])).toEqual([
      ['cep-engine', 'ready'],
      ['historical-data-manager', 'ready'],
    ]);
  });

  it('a rule applied from a file is shown, updated on a second apply and disabled', async () => {
    const id = `cli_it_${Date.now()}`;
    const file = join(dir, 'rule.json');
    writeFileSync(
      file,
      JSON.stringify({ id, severity: 'critical', builtin: 'RISK_BREACH', description: 'from the CLI test' }),
    );
    const created = await tributary(['rules', 'apply', '-f', file, ...urls]);
    expect(created.stderr).toBe('');
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout).toContain(`created ${id} (version 1)`);

    const shown = await tributary(['rules', 'show', id, ...urls]);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id, version: 1, enabled: true, severity: 'critical' });

    expect((await tributary(['rules', 'apply', '-f', file, ...urls])).stdout).toContain(
      `updated ${id} (version 2)`,
    );
    const disabled = await tributary(['rules', 'disable', id, '--json', ...urls]);
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ id, version: 3, enabled: false });
    const listed = await tributary(['rules', 'ls', ...urls]);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+3\\s+false`));
  });

  it('history query writes the rows of the range and symbol to a CSV file', async () => {
    const file = join(dir, 'trades.csv');
    const result = await tributary([
      'history',
      'query',
      '--dataset',
      dataset,
      '--from',
      '2026-01-05T14:00:00Z',
      '--to',
      '2026-01-05T14:01:00Z',
      '--symbols',
      'CLIA',
      '--columns',
      'symbol,price,tradeId',
      '--format',
      'csv',
      '-o',
      file,
      ...urls,
    ]);
    expect(result.stderr).toContain(`to ${file}`);
    expect(result.code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('symbol,price,tradeId');
    expect(lines.slice(1)).toEqual(
      trades.filter((t) => t.symbol === 'CLIA').map((t) => `CLIA,${t.price},${t.tradeId}`),
    );
  });

  it('jobs run --wait follows a candles job until it succeeds', async () => {
    const result = await tributary([
      'jobs',
      'run',
      'candles',
      '--from',
      '2026-01-05T14:00:00Z',
      '--to',
      '2026-01-05T14:01:00Z',
      '--param',
      `tradesDataset=${dataset}`,
      '--param',
      'intervals=["1m"]',
      '--wait',
      '--interval',
      '200',
      '--json',
      ...urls,
    ]);
    expect(result.stderr).toContain('100%');
    expect(result.code).toBe(0);
    const done = JSON.parse(result.stdout) as { status: string; percent: number; id: string };
    expect(done).toMatchObject({ status: 'succeeded', percent: 100 });
    const shown = await tributary(['jobs', 'show', done.id, '--json', ...urls]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: done.id, status: 'succeeded' });
  });

  it('topics drift --json answers the drift of the catalog topics, exit 0 in sync and 1 when some differ', async () => {
    const result = await tributary(['topics', 'drift', '--json', ...urls]);
    expect([0, 1]).toContain(result.code);
    const drift = JSON.parse(result.stdout) as {
      inSync: boolean;
      topics: { topic: string; inSync: boolean }[];
    };
    expect(drift.topics.every((t) => !t.inSync)).toBe(true);
    expect(drift.inSync).toBe(drift.topics.length === 0);
    expect(result.code).toBe(drift.inSync ? 0 : 1);
  });

  it('dlq ls --json lists the dead-letter topics with their record counts', async () => {
    const result = await tributary(['dlq', 'ls', '--json', ...urls]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const all = JSON.parse(result.stdout) as { dlqTopic: string; records: string; partitions: unknown[] }[];
    expect(Array.isArray(all)).toBe(true);
    for (const dlq of all) {
      expect(dlq.dlqTopic).toMatch(/\.dlq$/);
      expect(dlq.records).toMatch(/^\d+$/);
    }
  });

  it('tail prints a quote posted through the gateway once it is subscribed, and stops after --limit', async () => {
    const symbol = `CLI${Date.now().toString(36).toUpperCase()}`;
    const child = spawn(
      process.execPath,
      [launcher, 'tail', 'market.quotes', '--keys', symbol, '--limit', '1', '--json', ...urls],
      {
        cwd: workspaceRoot,
        env: {
          ...process.env,
          NODE_OPTIONS: '',
          TRIBUTARY_CONFIG: configFile,
          TRIBUTARY_API_KEY: TEST_API_KEY,
        },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let exitCode: number | null | undefined;
    child.on('close', (code) => (exitCode = code));
    try {
      await eventually(
        async () => stderr.includes('subscribed to market.quotes'),
        'tail subscribed',
        120_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${stderr}`);
      });
      const quote = {
        symbol,
        bidPrice: 10.1,
        bidSize: 100,
        askPrice: 10.2,
        askSize: 200,
        bidExchange: 'Q',
        askExchange: 'P',
        ts: (BigInt(Date.now()) * 1_000_000n).toString(),
        conditions: ['R'],
        tape: 'C',
      };
      const posted = await authorizedFetch(`${gateway.baseUrl}/v1/streams/market.quotes/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(quote),
      });
      expect(posted.status).toBe(202);
      await eventually(async () => exitCode !== undefined, 'tail ended after one record', 120_000).catch(
        (error: unknown) => {
          throw new Error(`${String(error)}\n${stderr}`);
        },
      );
      expect(exitCode).toBe(0);
    } finally {
      child.kill('SIGINT');
    }
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      type: 'record',
      topic: 'market.quotes',
      key: symbol,
      value: { symbol, bidPrice: 10.1 },
    });
  });

  it('a wrong key ends with exit code 1 and names the service that refused it, never the key', async () => {
    const result = await tributary(['rules', 'ls', ...urls], {
      TRIBUTARY_API_KEY: 'wrong-key-0123456789abcdef',
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`tributary: cep-engine at ${cep.baseUrl} refused the key (401)`);
    expect(result.stderr + result.stdout).not.toContain('wrong-key-0123456789abcdef');
  });

  it('a service nobody listens on ends with exit code 3', async () => {
    const port = await unusedPort();
    const result = await tributary(['jobs', 'ls', '--hdm-url', `http://127.0.0.1:${port}`]);
    expect(result.code).toBe(3);
    expect(result.stderr.trim()).toBe(
      `tributary: historical-data-manager at http://127.0.0.1:${port} is unreachable (connection refused)`,
    );
  });
});
