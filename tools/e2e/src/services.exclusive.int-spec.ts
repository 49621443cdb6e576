import { Client } from 'pg';
import { authorizedFetch, dropChangeCaptureObjects, infra, ServiceProcess, startService, waitForHttpStatus } from '@tributary/testing';

/** The five services, each on a test port so a running `npm start` does not collide with the tests. */
const SERVICES = [
  { app: 'options-collector', port: 13101 },
  { app: 'kafka-gateway', port: 13102 },
  { app: 'cdc-listener', port: 13103 },
  { app: 'cep-engine', port: 13104 },
  { app: 'historical-data-manager', port: 13105 },
] as const;

/**
 * The change-capture service creates a permanent replication slot, which holds WAL while nobody
 * reads it: the test run gets its own slot, publication and schema, dropped afterwards.
 */
const CDC_NAMES = {
  CDC_SLOT_NAME: `tributary_e2e_${process.pid}`,
  CDC_PUBLICATION: `tributary_e2e_${process.pid}`,
  CDC_SCHEMA: `trading_e2e_${process.pid}`,
};

async function dropCdcObjects(): Promise<void> {
  const client = new Client({ connectionString: process.env['DATABASE_URL'] });
  await client.connect();
  try {
    await dropChangeCaptureObjects(client, {
      slot: CDC_NAMES.CDC_SLOT_NAME,
      publication: CDC_NAMES.CDC_PUBLICATION,
      schema: CDC_NAMES.CDC_SCHEMA,
    });
  } finally {
    await client.end();
  }
}

describe('the five services against the local infrastructure', () => {
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    for (const { app, port } of SERVICES) {
      running.push(startService(app, { port, env: app === 'cdc-listener' ? CDC_NAMES : {} }));
    }
    await Promise.all(running.map((service) => waitForHttpStatus(`${service.baseUrl}/health/ready`, 200, 120_000)));
  });

  afterAll(async () => {
    await Promise.all(running.map((service) => service.stop()));
    await dropCdcObjects();
  });

  it.each(SERVICES.map((service) => service.app))('%s answers liveness, readiness and Prometheus metrics', async (app) => {
    const service = running.find((candidate) => candidate.app === app) as ServiceProcess;
    const live = await authorizedFetch(`${service.baseUrl}/health/live`);
    expect(live.status).toBe(200);
    const ready = await authorizedFetch(`${service.baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', info: { kafka: { status: 'up' } } });
    const metrics = await authorizedFetch(`${service.baseUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('process_cpu_seconds_total');
  });

  it('every service writes structured JSON logs naming itself', () => {
    for (const service of running) {
      const lines = service
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'));
      expect(lines.length).toBeGreaterThan(0);
      expect(JSON.parse(lines[0])).toMatchObject({ service: service.app });
    }
  });

  it('readiness turns 503 while the broker is stopped and 200 again when it is back, without a restart', async () => {
    infra('down', 'kafka');
    try {
      await Promise.all(
        running.map((service) => waitForHttpStatus(`${service.baseUrl}/health/ready`, 503, 90_000)),
      );
      for (const service of running) {
        const live = await authorizedFetch(`${service.baseUrl}/health/live`);
        expect(live.status).toBe(200);
      }
    } finally {
      infra('up', 'kafka');
    }
    await Promise.all(running.map((service) => waitForHttpStatus(`${service.baseUrl}/health/ready`, 200, 120_000)));
    for (const service of running) expect(service.child.exitCode).toBeNull();
  });
});

describe('configuration is validated at start-up', () => {
  it.each(SERVICES.map((service) => service.app))(
    '%s exits non-zero and names KAFKA_BROKERS when it is invalid',
    async (app) => {
      const service = startService(app, { port: 13199, env: { KAFKA_BROKERS: 'kafka-without-port' } });
      // Only a safety net: a service exits at once on bad config, however long a busy machine takes to load it.
      const timeout = setTimeout(() => service.child.kill('SIGKILL'), 150_000);
      const code = await service.exited;
      clearTimeout(timeout);
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(service.output()).toContain('KAFKA_BROKERS');
      expect(service.output()).toContain('host:port');
    },
  );
});
