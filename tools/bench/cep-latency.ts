// Event-to-alert latency of cep-engine through the real broker: the built service (dist/apps/cep-engine)
// consumes trades from the local Kafka, matches a rule and commits alerts in transactions; a
// read-committed reader measures from each alert's last event time (stamped with the wall clock when
// the trade was produced) to the moment the alert is readable. Baseline in the same run: the same
// trades' own produce-to-consume latency through the broker (no engine, no transactions).
//
//   npx nx build cep-engine
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/cep-latency.ts [events/s] [seconds]
//
// Defaults: 10,000 trades/s for 15 s over 50 symbols on 12 partitions; about 1 trade in 40 completes a
// match. Everything created (topics, groups' topics) is deleted at the end.
// Results go to bench-results/cep-latency.json. CEP_BENCH_PROFILE_DIR=<dir> samples the service's CPU
// (tools/bench/cpu-profile-preload.cjs) and leaves its .cpuprofile there (open it in Chrome DevTools).

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ClusterAdmin, headerValue, kafkaConnection, parseKafkaEnv, TopicReader, TypedProducer } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { authorizedFetch, startService, waitForHttpStatus, workspaceRoot } from '@tributary/testing';

const RATE = Number(process.argv[2] ?? 10_000);
const SECONDS = Number(process.argv[3] ?? 15);
const SYMBOLS = Array.from({ length: 50 }, (_, i) => `S${String(i).padStart(3, '0')}`);
const PROFILE_DIR = process.env['CEP_BENCH_PROFILE_DIR'];
const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const id = `cepbench${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const prefix = `${id}.`;
const logger = createLogger('cep-bench', 'silent');
const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: brokers }), 'cep-latency-bench');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function quantiles(values: number[]): { count: number; p50: number; p95: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(2));
  return { count: sorted.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
}

const nowNs = () =>
  (BigInt(Date.now()) * 1_000_000n + BigInt(Math.floor((performance.now() % 1) * 1e6))).toString();

async function main(): Promise<void> {
  const admin = new ClusterAdmin(connection);
  const trades = `${prefix}market.trades`;
  // Resolves once every partition has a leader, so the first trades are not refused.
  await admin.ensureConfigs([
    { topic: trades, numPartitions: 12, configEntries: [{ name: 'compression.type', value: 'lz4' }] },
  ]);
  const port = await freePort();
  const service = startService('cep-engine', {
    port,
    env: {
      KAFKA_BROKERS: brokers,
      KAFKA_GROUP_ID: `${id}-cep`,
      CEP_TOPIC_PREFIX: prefix,
      CEP_START_FROM: 'earliest',
      CEP_SEED_DEFAULT_RULES: 'false',
      LOG_LEVEL: 'warn',
      INSTANCE_ID: 'bench-0',
      ...(PROFILE_DIR
        ? {
            NODE_OPTIONS: `--require ${join(workspaceRoot, 'tools/bench/cpu-profile-preload.cjs')}`,
            CPU_PROFILE_DIR: PROFILE_DIR,
          }
        : {}),
    },
  });
  const results: Record<string, unknown> = {
    rate: RATE,
    seconds: SECONDS,
    symbols: SYMBOLS.length,
    partitions: 12,
  };
  try {
    await waitForHttpStatus(`${service.baseUrl}/health/ready`, 200, 90_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${service.output().slice(-3000)}`);
    });
    const rule = {
      id: 'bench_surge',
      severity: 'info',
      document: {
        inputs: ['market.trades'],
        keyBy: 'symbol',
        outOfOrdernessNs: 2_000_000,
        pattern: {
          stages: [
            { name: 'move', where: { field: 'price', op: '>=', to: { value: 104 } } },
            {
              name: 'volume',
              contiguity: 'followedBy',
              where: { field: 'size', op: '>=', to: { value: 900 } },
            },
          ],
          within: 50_000_000,
          skip: { kind: 'skipPastLastEvent' },
        },
      },
    };
    const created = await authorizedFetch(`${service.baseUrl}/rules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(rule),
    });
    if (created.status !== 201) throw new Error(`rule refused: ${await created.text()}`);
    await waitForHttpStatus(`${service.baseUrl}/health/ready`, 200, 60_000);

    const alertLatencies: number[] = [];
    const detectionLatencies: number[] = [];
    const rawLatencies: number[] = [];
    let measuring = true;
    // Read committed: an alert counts once its transaction has committed, as downstream readers see
    // it. No consumer group: every partition is read from its start, nothing is committed.
    const alertsReader = new TopicReader(connection, {
      topics: [`${prefix}cep.alerts`],
      from: 'earliest',
      readCommitted: true,
      maxWaitMs: 20,
      logger,
      handle: ({ records }) => {
        for (const record of records) {
          const alert = JSON.parse(record.value?.toString() ?? '{}') as { ts: string; detectedAt: string };
          const now = BigInt(nowNs());
          if (!measuring) return;
          alertLatencies.push(Number(now - BigInt(alert.ts)) / 1e6);
          detectionLatencies.push(Number(BigInt(alert.detectedAt) - BigInt(alert.ts)) / 1e6);
        }
      },
    });
    await alertsReader.start();
    // Baseline: the trades themselves, read plainly as they arrive (from the end: only this run's).
    const rawReader = new TopicReader(connection, {
      topics: [trades],
      from: 'latest',
      maxWaitMs: 20,
      logger,
      handle: ({ records }) => {
        const now = BigInt(nowNs());
        for (const record of records)
          if (measuring)
            rawLatencies.push(Number(now - BigInt(headerValue(record.headers, 'event.time') ?? now)) / 1e6);
      },
    });
    await rawReader.start();
    await new Promise((resolve) => setTimeout(resolve, 3000));

    // Each tick's trades go out as one request (no linger), acknowledged by every in-sync replica.
    const producer = new TypedProducer(connection, { service: 'cep-bench', lingerMs: 0, validate: false, logger });
    await producer.connect();
    let seq = 0;
    let sent = 0;
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((RATE * tickMs) / 1000));
    const started = Date.now();
    const cpuBefore = process.cpuUsage();
    while (Date.now() - started < SECONDS * 1000) {
      const tickStart = Date.now();
      const messages = Array.from({ length: perTick }, () => {
        const symbol = SYMBOLS[seq % SYMBOLS.length] as string;
        seq++;
        const ts = nowNs();
        const price = seq % 17 === 0 ? 105 : 100;
        const size = seq % 19 === 0 ? 950 : 100;
        const value = {
          symbol,
          price,
          size,
          exchange: 'D',
          tradeId: String(seq),
          conditions: ['@'],
          ts,
          tape: 'C',
        };
        return {
          key: symbol,
          value: JSON.stringify(value),
          headers: {
            'schema.name': 'UnderlyingTrade',
            'schema.version': '1',
            'event.time': ts,
            producer: 'cep-bench/0',
          },
        };
      });
      await producer.sendRaw(trades, messages);
      sent += messages.length;
      const spare = tickMs - (Date.now() - tickStart);
      if (spare > 0) await new Promise((resolve) => setTimeout(resolve, spare));
    }
    const elapsed = (Date.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    measuring = false;
    const cpu = process.cpuUsage(cpuBefore);
    await Promise.all([producer.disconnect(), alertsReader.stop(), rawReader.stop()]);
    const metrics = await (await fetch(`${service.baseUrl}/metrics`)).text();
    Object.assign(results, {
      sentPerSecond: Math.round(sent / elapsed),
      alerts: alertLatencies.length,
      eventToAlertMs: quantiles(alertLatencies),
      eventToDetectionMs: quantiles(detectionLatencies),
      baselineProduceToConsumeMs: quantiles(rawLatencies),
      benchProcessCpuSeconds: (cpu.user + cpu.system) / 1e6,
      transactions: Number(
        /tributary_cep_transaction_duration_seconds_count(?:\{[^}]*\})? (\d+)/.exec(metrics)?.[1] ?? NaN,
      ),
      meanTransactionMs: Number(
        (
          (1000 *
            Number(
              /tributary_cep_transaction_duration_seconds_sum(?:\{[^}]*\})? ([\d.e+-]+)/.exec(metrics)?.[1] ??
                NaN,
            )) /
          Number(
            /tributary_cep_transaction_duration_seconds_count(?:\{[^}]*\})? (\d+)/.exec(metrics)?.[1] ?? NaN,
          )
        ).toFixed(2),
      ),
      serviceCpuSeconds: Number(
        /process_cpu_seconds_total(?:\{[^}]*\})? ([\d.e+-]+)/.exec(metrics)?.[1] ?? NaN,
      ),
    });
  } finally {
    await service.stop();
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics(topics).catch(() => undefined);
    await admin.close();
  }
  console.log(JSON.stringify(results, null, 2));
  const dir = join(workspaceRoot, 'bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'cep-latency.json'),
    `${JSON.stringify({ ...results, at: new Date().toISOString() }, null, 2)}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
