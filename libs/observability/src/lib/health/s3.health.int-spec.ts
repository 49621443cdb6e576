import { randomUUID } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { parseEnv, s3Env } from '@tributary/config';
import { unusedPort } from '@tributary/testing';
import { createS3Client } from './s3-client';
import { S3HealthIndicator } from './s3.health';

const TEST_BUCKET = 'tributary-test';
// The local server from tools/infra (S3_* in process.env), with the bucket kept for tests.
const config = parseEnv(s3Env, { ...process.env, S3_BUCKET: TEST_BUCKET });
// Every probe here gets a definite answer (or a refused connection) from the server: the timeout only
// has to outlast a busy machine, no probe is meant to run into it.
const PROBE_TIMEOUT_MS = 30_000;

describe('S3 against the local S3 server', () => {
  const indicators: S3HealthIndicator[] = [];
  const indicator = (bucket: string, overrides: Partial<typeof config> = {}) => {
    const created = new S3HealthIndicator({
      config: { ...config, ...overrides },
      bucket,
      timeoutMs: PROBE_TIMEOUT_MS,
    });
    indicators.push(created);
    return created;
  };

  afterAll(() => {
    for (const created of indicators) created.onApplicationShutdown();
  });

  it('S3 readiness reports up for an existing bucket and down naming the bucket when it does not exist', async () => {
    const up = await indicator(TEST_BUCKET).isHealthy('archive');
    expect(up).toMatchObject({
      archive: { status: 'up', bucket: TEST_BUCKET, endpoint: config.S3_ENDPOINT },
    });

    const missing = `tributary-missing-${randomUUID().slice(0, 8)}`;
    const down = await indicator(missing).isHealthy('archive');
    expect(down.archive).toMatchObject({
      status: 'down',
      bucket: missing,
      message: `S3 bucket '${missing}' does not exist at ${config.S3_ENDPOINT}`,
    });
  });

  it('S3 readiness is down with a clear error when nothing listens at the endpoint', async () => {
    const endpoint = `http://127.0.0.1:${await unusedPort()}`;
    const down = await indicator(TEST_BUCKET, { S3_ENDPOINT: endpoint }).isHealthy();
    expect(down.s3.status).toBe('down');
    expect(down.s3['message']).toMatch(
      new RegExp(`^S3 bucket '${TEST_BUCKET}' at ${endpoint}: .*ECONNREFUSED`),
    );
  });

  it('S3 readiness reports wrong credentials as access denied, without showing the secret', async () => {
    const down = await indicator(TEST_BUCKET, { S3_SECRET_ACCESS_KEY: 'not-the-secret' }).isHealthy();
    expect(down.s3.status).toBe('down');
    expect(JSON.stringify(down)).not.toContain('not-the-secret');
    expect(down.s3['message']).toMatch(/denied|403|signature/i);
  });

  it('the S3 client from config can put and get an object on the local S3 server path-style', async () => {
    const client = createS3Client(config);
    const requests: Array<{ hostname: string; path: string }> = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        requests.push(args.request as { hostname: string; path: string });
        return next(args);
      },
      { step: 'finalizeRequest' },
    );
    const key = `observability/${randomUUID()}.json`;
    const body = JSON.stringify({ symbol: 'SPY', strike: 450.5, expiry: '2025-06-20' });
    try {
      await client.send(
        new PutObjectCommand({ Bucket: TEST_BUCKET, Key: key, Body: body, ContentType: 'application/json' }),
      );
      const got = await client.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: key }));
      expect(await got.Body?.transformToString()).toBe(body);
      expect(got.ContentType).toBe('application/json');
      // Path-style: the bucket is in the path, not in the host name.
      expect(requests.map(({ hostname, path }) => `${hostname}${path}`)).toEqual([
        `${new URL(config.S3_ENDPOINT).hostname}/${TEST_BUCKET}/${key}`,
        `${new URL(config.S3_ENDPOINT).hostname}/${TEST_BUCKET}/${key}`,
      ]);
    } finally {
      await client.send(new DeleteObjectCommand({ Bucket: TEST_BUCKET, Key: key }));
      client.destroy();
    }
  });
});
