import fc from 'fast-check';
import { Client } from 'pg';
import { sampleEvent, TOPIC_NAMES } from '@tributary/contracts';
import { OPEN_PATHS, REQUIRED_SCOPE } from '@tributary/service';
import {
  authorizedFetch,
  controllerRoutes,
  dropChangeCaptureObjects,
  infra,
  ServiceProcess,
  startService,
  TEST_API_KEY,
  TEST_AUTH_API_KEYS,
  waitForHttpStatus,
} from '@tributary/testing';

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

/** A key every service accepts that holds a scope no route asks for: it gets past 401 to each route's 403. */
const UNSCOPED_KEY = 'e2e-unscoped-key-0123456789';
const AUTH_API_KEYS = `${TEST_AUTH_API_KEYS},unscoped:${UNSCOPED_KEY}:read:nothing.here`;

/** Values for the path parameters of the routes, so each request reaches its handler. */
const PATH_PARAMETERS: Record<string, string> = {
  stream: 'market.quotes',
  dataset: 'market_trades',
  underlying: 'SPY',
  id: 'no-such-id',
  table: 'no_such_table',
  name: 'no-such-snapshot',
  topic: 'market.quotes.dlq',
};

function pathOf(template: string): string {
  return template.replace(/:([A-Za-z]+)/g, (_match, name: string) => PATH_PARAMETERS[name] ?? `no-such-${name}`);
}

/** One request with a deadline: a fuzzed request that never answers fails the test instead of hanging it. */
async function send(url: string, init: RequestInit & { key?: string } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.key !== undefined) headers.set('authorization', `Bearer ${init.key}`);
  return fetch(url, { ...init, headers, signal: AbortSignal.timeout(60_000) });
}

async function residentBytes(service: ServiceProcess): Promise<number> {
  const text = await (await send(`${service.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith('process_resident_memory_bytes'));
  return Number(line?.split(' ').pop() ?? Number.NaN);
}

describe('the five services against the local infrastructure', () => {
  const running: ServiceProcess[] = [];

  beforeAll(async () => {
    for (const { app, port } of SERVICES) {
      running.push(startService(app, { port, env: { AUTH_API_KEYS, ...(app === 'cdc-listener' ? CDC_NAMES : {}) } }));
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

  const serviceOf = (app: string): ServiceProcess => running.find((candidate) => candidate.app === app) as ServiceProcess;

  it.each(SERVICES.map((service) => service.app))(
    '%s: every route answers 401 without a credential, 403 with a key lacking its scope, and its own answer with the scope',
    async (app) => {
      const service = serviceOf(app);
      const routes = (await controllerRoutes(app, { scopeKey: REQUIRED_SCOPE, openPaths: OPEN_PATHS })).filter((route) => route.scope !== 'none');
      expect(routes.length).toBeGreaterThan(0);
      const wrong: string[] = [];
      for (const route of routes) {
        const url = `${service.baseUrl}${pathOf(route.path)}`;
        const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : '{}';
        const init = { method: route.method, body, headers: body === undefined ? {} : { 'content-type': 'application/json' } };
        const anonymous = await send(url, init);
        if (anonymous.status !== 401) wrong.push(`${route.method} ${route.path} without a credential: ${anonymous.status}`);
        if (route.scope !== 'any credential') {
          const unscoped = await send(url, { ...init, key: UNSCOPED_KEY });
          if (unscoped.status !== 403) wrong.push(`${route.method} ${route.path} without ${route.scope}: ${unscoped.status}`);
        }
        const allowed = await send(url, { ...init, key: TEST_API_KEY });
        if (allowed.status === 401 || allowed.status === 403 || allowed.status >= 500) {
          wrong.push(`${route.method} ${route.path} with ${route.scope}: ${allowed.status} ${(await allowed.text()).slice(0, 200)}`);
        }
      }
      expect(wrong).toEqual([]);
    },
    180_000,
  );

  it('refuses a forged alert or rule through the gateway whatever the scope, naming why', async () => {
    const gateway = serviceOf('kafka-gateway');
    for (const stream of ['cep.alerts', 'cep.rules', 'market.trades.validated']) {
      const response = await send(`${gateway.baseUrl}/v1/streams/${stream}/events`, {
        method: 'POST',
        key: TEST_API_KEY,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(sampleEvent(stream as (typeof TOPIC_NAMES)[number])),
      });
      expect(response.status).toBe(403);
      expect(((await response.json()) as { message: string }).message).toMatch(`${stream} is written by the platform itself`);
    }
  });

  it('answers a hostile ingestion, query or rule request with a 4xx, never a 5xx or a hang, and keeps its memory bounded', async () => {
    const gateway = serviceOf('kafka-gateway');
    const history = serviceOf('historical-data-manager');
    const cep = serviceOf('cep-engine');
    const cdc = serviceOf('cdc-listener');
    const deep = fc.integer({ min: 1, max: 6000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`);
    const hostileText = fc.oneof(
      fc.json(),
      deep,
      fc.string({ maxLength: 2000 }),
      fc.constantFrom('1e400', '{"price":1e400}', '-1e400', 'NaN', '{"__proto__":{"polluted":true}}', '\u0000', '[]', '{}', 'null', '"'),
      fc.record({ event: fc.constantFrom(...TOPIC_NAMES) }).map(({ event }) =>
        JSON.stringify(sampleEvent(event)).replace(/"(price|bidPrice|size)":[0-9.]+/, '"$1":1e400'),
      ),
    );
    const contentType = fc.constantFrom('application/json', 'application/x-ndjson', 'text/plain', 'application/json; charset=utf-8', 'application/yaml');
    const queryValue = fc.oneof(fc.string({ maxLength: 300 }), fc.integer().map(String), fc.constantFrom('0', '-1', '1e400', '99999999999999999999999', '2020-01-01', 'SPY,QQQ', '*', '../../etc'));
    const queryString = fc
      .dictionary(fc.constantFrom('from', 'to', 'symbols', 'columns', 'format', 'limit', 'table', 'op', 'since', 'until', 'cursor', 'rule', 'x'), queryValue, { maxKeys: 6 })
      .map((query) => new URLSearchParams(query).toString());
    const failures: string[] = [];
    const check = async (what: string, response: Response): Promise<void> => {
      const text = await response.text();
      if (response.status >= 500) failures.push(`${what}: ${response.status} ${text.slice(0, 200)}`);
    };

    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TOPIC_NAMES, 'market.quotes', 'no.such.stream'), hostileText, contentType, async (stream, body, type) => {
        const response = await send(`${gateway.baseUrl}/v1/streams/${stream}/events`, { method: 'POST', key: TEST_API_KEY, headers: { 'content-type': type }, body });
        await check(`POST ${stream} ${type} ${body.slice(0, 80)}`, response);
      }),
      { numRuns: 300, seed: 13 },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('market_trades', 'candles_1m', 'cep_alerts', 'no_such'), queryString, async (dataset, query) => {
        await check(`GET ${dataset}/rows?${query}`, await send(`${history.baseUrl}/v1/datasets/${dataset}/rows?${query}`, { key: TEST_API_KEY }));
      }),
      { numRuns: 150, seed: 13 },
    );
    await fc.assert(
      fc.asyncProperty(queryString, async (query) => {
        await check(`GET /audit?${query}`, await send(`${cdc.baseUrl}/audit?${query}`, { key: TEST_API_KEY }));
        await check(`GET /alerts/recent?${query}`, await send(`${cep.baseUrl}/alerts/recent?${query}`, { key: TEST_API_KEY }));
      }),
      { numRuns: 100, seed: 13 },
    );
    await fc.assert(
      fc.asyncProperty(hostileText, async (body) => {
        const response = await send(`${cep.baseUrl}/rules`, { method: 'POST', key: TEST_API_KEY, headers: { 'content-type': 'application/json' }, body });
        await check(`POST /rules ${body.slice(0, 80)}`, response);
      }),
      { numRuns: 150, seed: 13 },
    );
    expect(failures).toEqual([]);
    // Generous: each service runs in far less; what is ruled out is growth without bound.
    for (const service of [gateway, history, cep, cdc]) expect(await residentBytes(service)).toBeLessThan(1.5 * 1024 ** 3);
  }, 600_000);

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

  it.each(SERVICES.map((service) => service.app))(
    '%s refuses to start with the public development key under NODE_ENV=production, naming AUTH_DEV_KEY_ENABLED',
    async (app) => {
      const service = startService(app, { port: 13198, env: { NODE_ENV: 'production', AUTH_DEV_KEY_ENABLED: 'true' } });
      // Only a safety net: a service exits at once on bad config, however long a busy machine takes to load it.
      const timeout = setTimeout(() => service.child.kill('SIGKILL'), 150_000);
      const code = await service.exited;
      clearTimeout(timeout);
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(service.output()).toContain('AUTH_DEV_KEY_ENABLED: the public development key may not be enabled under NODE_ENV=production');
    },
  );
});
