// Ingestion through the kafka-gateway against producing the same events straight to Kafka.
//
//   npx nx build kafka-gateway
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/gateway-ingestion.ts
//
// Three runs of BENCH_SECONDS each (default 15) with the same market.quotes events, 100 per request
// or frame, against the local broker (tools/infra/up), acks=all everywhere:
//   1. baseline: a TypedProducer in this process sending the events directly (what a producer with
//      Kafka access and the contracts library achieves);
//   2. HTTP: BENCH_CLIENTS concurrent clients (default 8) posting JSON arrays to
//      POST /v1/streams/market.quotes/events on the built gateway (validation, auth, acks=all);
//   3. WebSocket: one connection per client, BENCH_FRAMES_IN_FLIGHT frames pipelined (default 8).
// The events carry one ticker of their own, so nothing else confuses them with real quotes.
// Results go to bench-results/gateway-ingestion.json.

import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CATALOG, sampleEvent, type UnderlyingQuote } from '@tributary/contracts';
import { ensureTopics, kafkaConnection, kafkaEnv, TypedProducer } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { parseEnv } from '@tributary/config';
import { readInfraEnv, startService, TEST_API_KEY, waitForHttpStatus } from '@tributary/testing';

const RUN_SECONDS = Number(process.env['BENCH_SECONDS'] ?? 15);
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 8);
const FRAMES_IN_FLIGHT = Number(process.env['BENCH_FRAMES_IN_FLIGHT'] ?? 8);
const BATCH = 100;
const STREAM = 'market.quotes';
const KEY = TEST_API_KEY;
const SYMBOL = 'BENCHGW';

interface Run {
  eventsPerSecond: number;
  requests: number;
  latencyMs?: { p50: number; p99: number; max: number };
}

function batchOf(n: number): UnderlyingQuote.Value[] {
  const now = BigInt(Date.now()) * 1_000_000n;
  return Array.from({ length: n }, (_, i) => sampleEvent(STREAM, { symbol: SYMBOL, bidPrice: 100 + (i % 50) / 100, askPrice: 101, ts: String(now + BigInt(i)) }));
}

function percentiles(samples: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: Number(at(0.5).toFixed(2)), p99: Number(at(0.99).toFixed(2)), max: Number((sorted[sorted.length - 1] ?? 0).toFixed(2)) };
}

async function direct(): Promise<Run> {
  const config = parseEnv(kafkaEnv, { KAFKA_BROKERS: readInfraEnv()['KAFKA_BROKERS'] });
  const logger = createLogger('gateway-ingestion-bench', 'warn');
  const connection = kafkaConnection(config, 'gateway-ingestion-bench');
  await ensureTopics(connection, [CATALOG[STREAM]], { logger });
  // Validating like the gateway does, so the difference is HTTP/WebSocket, auth and JSON, not the checks.
  const producer = new TypedProducer(connection, { service: 'gateway-ingestion-bench', instanceId: 'bench', logger, validate: true });
  await producer.connect();
  const latencies: number[] = [];
  let events = 0;
  let requests = 0;
  const end = performance.now() + RUN_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        await producer.send(STREAM, batchOf(BATCH).map((value) => ({ value })));
        latencies.push(performance.now() - started);
        events += BATCH;
        requests += 1;
      }
    }),
  );
  await producer.disconnect();
  return { eventsPerSecond: events / RUN_SECONDS, requests, latencyMs: percentiles(latencies) };
}

async function http(baseUrl: string): Promise<Run> {
  const latencies: number[] = [];
  let events = 0;
  let requests = 0;
  let refused = 0;
  const end = performance.now() + RUN_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        const started = performance.now();
        const response = await fetch(`${baseUrl}/v1/streams/${STREAM}/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify(batchOf(BATCH)),
        });
        await response.arrayBuffer();
        latencies.push(performance.now() - started);
        requests += 1;
        if (response.status === 202) events += BATCH;
        else refused += 1;
      }
    }),
  );
  if (refused > 0) console.log(`  http: ${refused} requests not accepted (429/503)`);
  return { eventsPerSecond: events / RUN_SECONDS, requests, latencyMs: percentiles(latencies) };
}

async function websocket(baseUrl: string): Promise<Run> {
  const latencies: number[] = [];
  let events = 0;
  let requests = 0;
  const end = performance.now() + RUN_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/v1/streams/${STREAM}/ws`, { headers: { authorization: `Bearer ${KEY}` } });
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      const sentAt: number[] = [];
      let finished!: () => void;
      const done = new Promise<void>((resolve) => (finished = resolve));
      const send = () => {
        sentAt.push(performance.now());
        socket.send(JSON.stringify({ events: batchOf(BATCH) }));
      };
      socket.on('message', (data) => {
        const reply = JSON.parse(data.toString()) as { type: string; accepted?: number };
        latencies.push(performance.now() - (sentAt.shift() ?? performance.now()));
        requests += 1;
        if (reply.type === 'ack') events += reply.accepted ?? 0;
        if (performance.now() < end) send();
        else if (sentAt.length === 0) finished();
      });
      for (let i = 0; i < FRAMES_IN_FLIGHT; i += 1) send();
      await done;
      socket.close();
    }),
  );
  return { eventsPerSecond: events / RUN_SECONDS, requests, latencyMs: percentiles(latencies) };
}

async function main(): Promise<void> {
  console.log(`kafka-gateway ingestion benchmark: ${RUN_SECONDS} s per run, ${CLIENTS} clients, ${BATCH} events per request/frame`);
  const baseline = await direct();
  console.log(`baseline, TypedProducer direct: ${Math.round(baseline.eventsPerSecond).toLocaleString('en')} events/s, p50 ${baseline.latencyMs?.p50} ms, p99 ${baseline.latencyMs?.p99} ms per ${BATCH}`);

  const gateway = startService('kafka-gateway', {
    port: 23199,
    env: { GATEWAY_APPLY_CATALOG_ON_START: 'false', GATEWAY_ENRICHMENT_ENABLED: 'false', LOG_LEVEL: 'warn', KAFKA_GROUP_ID: `bench-gateway-${randomUUID()}` },
  });
  try {
    await waitForHttpStatus(`${gateway.baseUrl}/health/ready`, 200);
    const overHttp = await http(gateway.baseUrl);
    console.log(`HTTP POST, acks=all:          ${Math.round(overHttp.eventsPerSecond).toLocaleString('en')} events/s, p50 ${overHttp.latencyMs?.p50} ms, p99 ${overHttp.latencyMs?.p99} ms per request`);
    const overWs = await websocket(gateway.baseUrl);
    console.log(`WebSocket frames, acks=all:   ${Math.round(overWs.eventsPerSecond).toLocaleString('en')} events/s, p50 ${overWs.latencyMs?.p50} ms, p99 ${overWs.latencyMs?.p99} ms per frame`);
    console.log(`HTTP / baseline: ${((overHttp.eventsPerSecond / baseline.eventsPerSecond) * 100).toFixed(1)}%, WebSocket / baseline: ${((overWs.eventsPerSecond / baseline.eventsPerSecond) * 100).toFixed(1)}%`);
    const directory = join(process.cwd(), 'bench-results');
    mkdirSync(directory, { recursive: true });
    const results = {
      benchmark: 'gateway-ingestion',
      at: new Date().toISOString(),
      runSeconds: RUN_SECONDS,
      clients: CLIENTS,
      eventsPerRequest: BATCH,
      framesInFlight: FRAMES_IN_FLIGHT,
      baseline,
      http: overHttp,
      websocket: overWs,
    };
    writeFileSync(join(directory, 'gateway-ingestion.json'), `${JSON.stringify(results, null, 2)}\n`);
  } finally {
    await gateway.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
