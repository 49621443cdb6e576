// Change capture of cdc-listener: row changes per second from PostgreSQL to Kafka and commit-to-Kafka
// latency, against the raw insert rate of the same load into PostgreSQL.
//
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/cdc-listener.ts
//
// A pgbench-like load from Node: WRITERS sessions each commit one-row inserts into orders back to
// back for BENCH_SECONDS (default 15). Two runs in the same process, each in its own schema:
//   1. baseline: the load alone, no slot;
//   2. capture: the same load while the change stream (pgoutput slot, Debezium envelope, idempotent
//      producer with acks=all, LSN confirmed after the ack) publishes it to the local Kafka.
// Latency: from the commit time PostgreSQL reports to Kafka acknowledging the transaction.
// Everything created (schemas, slot, publication, topics) is dropped at the end.
// Results go to bench-results/cdc-listener.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createKafka, ensureTopics, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { migrateTradingSchema } from '../../apps/cdc-listener/src/app/trading-schema/trading-database';
import { ChangePublisher } from '../../apps/cdc-listener/src/app/capture/change-publisher';
import { ChangeStream } from '../../apps/cdc-listener/src/app/capture/change-stream';

const RUN_SECONDS = Number(process.env['BENCH_SECONDS'] ?? 15);
const WRITERS = Number(process.env['BENCH_WRITERS'] ?? 4);
const databaseUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/tributary';
const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const id = `${process.pid}_${Date.now().toString(36)}`;
const logger = createLogger('cdc-listener-bench', 'silent');

/** WRITERS sessions committing one-row inserts back to back; resolves with the rows committed. */
async function load(schema: string, seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  const counts = await Promise.all(
    Array.from({ length: WRITERS }, async (_, session) => {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      let rows = 0;
      while (Date.now() < deadline) {
        await client.query(
          `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity, limit_price)
           VALUES ($1, 'ACC-BENCH', 'AAPL', 'buy', 'limit', 10, 187.12345678)`,
          [`bench-${session}-${rows}`],
        );
        rows++;
      }
      await client.end();
      return rows;
    }),
  );
  return counts.reduce((sum, rows) => sum + rows, 0);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function main(): Promise<void> {
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  const baselineSchema = `cdc_bench_base_${id}`;
  const captureSchema = `cdc_bench_${id}`;
  const slotName = `cdc_bench_${id}`;
  const prefix = `cdcbench${id.replace(/_/g, '')}`;
  const transactionTopic = `${prefix}.transactions`;
  const kafka = createKafka(parseKafkaEnv({ KAFKA_BROKERS: brokers }), 'cdc-listener-bench', logger);
  const producer = new TypedProducer(kafka, { service: 'cdc-listener-bench', logger, lingerMs: 5 });
  const publisher = new ChangePublisher(producer, { topicPrefix: prefix, transactionTopic, tombstonesOnDelete: true });
  let stream: ChangeStream | undefined;
  try {
    await migrateTradingSchema(databaseUrl, baselineSchema);
    const baselineRows = await load(baselineSchema, RUN_SECONDS);
    const baselineRate = baselineRows / RUN_SECONDS;
    console.log(`baseline: ${baselineRows} rows committed in ${RUN_SECONDS} s = ${baselineRate.toFixed(0)} rows/s`);

    await migrateTradingSchema(databaseUrl, captureSchema);
    const latenciesMs: number[] = [];
    let captured = 0;
    let lastConfirmAt = 0;
    stream = new ChangeStream({
      databaseUrl,
      schema: captureSchema,
      tables: ['orders'],
      replicaIdentityFull: ['orders'],
      slotName,
      publication: slotName,
      serverName: prefix,
      version: 'bench',
      statusIntervalMs: 1000,
      logger,
      deliver: (transaction) => publisher.publish(transaction),
      onConfirmed: (_lsn, transaction) => {
        if (!transaction) return;
        const now = Date.now();
        latenciesMs.push(now - transaction.commitTimeMicros / 1000);
        captured += transaction.changes.length;
        lastConfirmAt = now;
      },
    });
    await stream.prepare(admin);
    await ensureTopics(kafka, [publisher.transactionSpec, publisher.topicOf(captureSchema, 'orders', ['id'])], {
      replicationFactor: 1,
    });
    const running = stream.run().catch(() => undefined);
    while (!stream.streaming) await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    const committedRows = await load(captureSchema, RUN_SECONDS);
    const loadEnded = Date.now();
    while (captured < committedRows && Date.now() - loadEnded < 60_000) await new Promise((resolve) => setTimeout(resolve, 50));
    const captureSeconds = (Math.max(lastConfirmAt, loadEnded) - started) / 1000;
    const captureRate = captured / captureSeconds;
    const sorted = [...latenciesMs].sort((a, b) => a - b);
    const result = {
      benchmark: 'cdc-listener',
      writers: WRITERS,
      seconds: RUN_SECONDS,
      baseline: { rowsCommitted: baselineRows, rowsPerSecond: Math.round(baselineRate) },
      capture: {
        rowsCommitted: committedRows,
        rowsCaptured: captured,
        insertRowsPerSecond: Math.round(committedRows / RUN_SECONDS),
        capturedRowsPerSecond: Math.round(captureRate),
        drainAfterLoadMs: Math.max(0, lastConfirmAt - loadEnded),
        commitToKafkaMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN },
      },
      captureVsBaseline: Number((captureRate / baselineRate).toFixed(3)),
    };
    console.log(
      `capture: ${committedRows} rows committed (${result.capture.insertRowsPerSecond} rows/s while captured), ` +
        `${captured} captured to Kafka = ${result.capture.capturedRowsPerSecond} rows/s ` +
        `(${(result.captureVsBaseline * 100).toFixed(0)}% of the baseline insert rate)`,
    );
    console.log(
      `commit-to-Kafka latency: p50 ${result.capture.commitToKafkaMs.p50.toFixed(1)} ms, ` +
        `p99 ${result.capture.commitToKafkaMs.p99.toFixed(1)} ms, max ${result.capture.commitToKafkaMs.max.toFixed(1)} ms`,
    );
    mkdirSync(join(process.cwd(), 'bench-results'), { recursive: true });
    writeFileSync(join(process.cwd(), 'bench-results', 'cdc-listener.json'), JSON.stringify(result, null, 2) + '\n');
    await stream.stop();
    await running;
  } finally {
    await stream?.stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    // The walsender lets the slot go a moment after the stream ends: wait for it, then drop the slot.
    for (let attempt = 0; attempt < 100; attempt++) {
      const dropped = await admin.query<{ gone: boolean }>(
        `SELECT NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active) AS gone`,
        [slotName],
      );
      if (dropped.rows[0]?.gone) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await admin.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slotName]);
    await admin.query(`DROP PUBLICATION IF EXISTS "${slotName}"`);
    await admin.query(`DROP SCHEMA IF EXISTS "${baselineSchema}" CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS "${captureSchema}" CASCADE`);
    await admin.end();
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    const existing = new Set(await kafkaAdmin.listTopics());
    await kafkaAdmin.deleteTopics({
      topics: [transactionTopic, `${prefix}.${captureSchema}.orders`].filter((topic) => existing.has(topic)),
    });
    await kafkaAdmin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
