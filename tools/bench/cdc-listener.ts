// Change capture of cdc-listener: row changes per second from PostgreSQL to Kafka and commit-to-Kafka
// latency, against the raw insert rate of the same load into PostgreSQL, measured in the same run.
//
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/cdc-listener.ts
//
// Environment: BENCH_SECONDS (default 15 per phase), BENCH_WRITERS (4 sessions), BENCH_ROWS_PER_TX
// (100), BENCH_VALIDATE (false: the producer's schema check, off in production like the service's
// image, on by default elsewhere), BENCH_PROFILE=1 (only the multi-row capture phase, for --cpu-prof).
//
// Phases, each in its own schema, WRITERS sessions committing back to back for BENCH_SECONDS:
//   1. baseline: transactions of ROWS_PER_TX inserted rows into orders, no slot (the raw insert rate);
//   2. capture: the same load while the change stream (pgoutput slot, Debezium envelope, idempotent
//      producer with acks=all, audit trail written, LSN confirmed after both) captures it to Kafka;
//   3. capture without the audit trail (CDC_AUDIT_LOG=false);
//   4. capture of one-row transactions (the commit rate, BEGIN/END records per row).
// Latency: from the commit time PostgreSQL reports to Kafka (and the audit trail) acknowledging the
// transaction. The WAL written per second in phase 2 gives how long source.lsn stays below 2^53.
// Everything created (schemas, slots, publications, topics) is dropped at the end.
// Results go to bench-results/cdc-listener.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createKafka, ensureTopics, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { migrateTradingSchema } from '../../apps/cdc-listener/src/app/trading-schema/trading-database';
import { AuditTrailWriter } from '../../apps/cdc-listener/src/app/audit/audit-trail-writer';
import { ChangePublisher } from '../../apps/cdc-listener/src/app/capture/change-publisher';
import { ChangeStream } from '../../apps/cdc-listener/src/app/capture/change-stream';

const RUN_SECONDS = Number(process.env['BENCH_SECONDS'] ?? 15);
const WRITERS = Number(process.env['BENCH_WRITERS'] ?? 4);
const ROWS_PER_TX = Number(process.env['BENCH_ROWS_PER_TX'] ?? 100);
const VALIDATE = process.env['BENCH_VALIDATE'] === 'true';
const PROFILE = process.env['BENCH_PROFILE'] === '1';
const databaseUrl = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/tributary';
const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const id = `${process.pid}_${Date.now().toString(36)}`;
const logger = createLogger('cdc-listener-bench', 'silent');
const kafka = createKafka(parseKafkaEnv({ KAFKA_BROKERS: brokers }), 'cdc-listener-bench', logger);
const schemas: string[] = [];
const slots: string[] = [];
const topics: string[] = [];

/** WRITERS sessions committing transactions of `rowsPerTx` inserts back to back; resolves with the rows committed. */
async function load(schema: string, seconds: number, rowsPerTx: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  const counts = await Promise.all(
    Array.from({ length: WRITERS }, async (_, session) => {
      const client = new Client({ connectionString: databaseUrl });
      await client.connect();
      let rows = 0;
      while (Date.now() < deadline) {
        await client.query(
          `INSERT INTO "${schema}".orders (client_order_id, account, symbol, side, order_type, quantity, limit_price)
           SELECT $1 || '-' || n, 'ACC-BENCH', 'AAPL', 'buy', 'limit', 10, 187.12345678 FROM generate_series(1, $2) AS n`,
          [`bench-${session}-${rows}`, rowsPerTx],
        );
        rows += rowsPerTx;
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

async function walLsn(admin: Client): Promise<bigint> {
  const result = await admin.query<{ lsn: string }>(`SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn`);
  return BigInt(result.rows[0]?.lsn ?? '0');
}

interface CapturePhase {
  rowsPerTransaction: number;
  audit: boolean;
  rowsCommitted: number;
  rowsCaptured: number;
  insertRowsPerSecond: number;
  capturedRowsPerSecond: number;
  drainAfterLoadMs: number;
  walBytesPerSecond: number;
  producerRecordsPerRequest: number;
  commitToKafkaMs: { p50: number; p99: number; max: number };
}

async function capture(admin: Client, name: string, rowsPerTx: number, audit: boolean): Promise<CapturePhase> {
  const schema = `cdc_bench_${name}_${id}`;
  const slotName = schema;
  const prefix = `cdcbench${name}${id.replace(/_/g, '')}`;
  const transactionTopic = `${prefix}.transactions`;
  schemas.push(schema);
  slots.push(slotName);
  topics.push(transactionTopic, `${prefix}.${schema}.orders`);
  await migrateTradingSchema(databaseUrl, schema);
  const producer = new TypedProducer(kafka, { service: 'cdc-listener-bench', logger, lingerMs: 5, validate: VALIDATE });
  const publisher = new ChangePublisher(producer, { topicPrefix: prefix, transactionTopic, tombstonesOnDelete: true });
  const auditTrail = audit ? new AuditTrailWriter({ databaseUrl, schema, excludedTables: ['audit_log'] }) : null;
  const latenciesMs: number[] = [];
  let captured = 0;
  let lastConfirmAt = 0;
  const stream = new ChangeStream({
    databaseUrl,
    schema,
    tables: ['orders'],
    replicaIdentityFull: ['orders'],
    slotName,
    publication: slotName,
    serverName: prefix,
    version: 'bench',
    statusIntervalMs: 1000,
    logger,
    maxEventsInMemory: 10_000,
    deliver: async (transaction) => {
      await publisher.publish(transaction);
      await auditTrail?.record(transaction, transaction.changes);
    },
    deliverChunk: async (chunk) => {
      await publisher.publishChunk(chunk);
      await auditTrail?.record(chunk.transaction, chunk.changes);
    },
    onConfirmed: (_lsn, transaction) => {
      if (!transaction) return;
      const now = Date.now();
      latenciesMs.push(now - transaction.commitTimeMicros / 1000);
      captured += transaction.end.event_count ?? 0;
      lastConfirmAt = now;
    },
  });
  try {
    await stream.prepare(admin);
    await ensureTopics(kafka, [publisher.transactionSpec, publisher.topicOf(schema, 'orders', ['id'])], { replicationFactor: 1 });
    const running = stream.run().catch(() => undefined);
    while (!stream.streaming) await new Promise((resolve) => setTimeout(resolve, 50));
    const walBefore = await walLsn(admin);
    const started = Date.now();
    const committedRows = await load(schema, RUN_SECONDS, rowsPerTx);
    const loadEnded = Date.now();
    const walBytes = Number((await walLsn(admin)) - walBefore);
    while (captured < committedRows && Date.now() - loadEnded < 120_000) await new Promise((resolve) => setTimeout(resolve, 50));
    const captureSeconds = (Math.max(lastConfirmAt, loadEnded) - started) / 1000;
    const sorted = [...latenciesMs].sort((a, b) => a - b);
    await stream.stop();
    await running;
    return {
      rowsPerTransaction: rowsPerTx,
      audit,
      rowsCommitted: committedRows,
      rowsCaptured: captured,
      insertRowsPerSecond: Math.round(committedRows / RUN_SECONDS),
      capturedRowsPerSecond: Math.round(captured / captureSeconds),
      drainAfterLoadMs: Math.max(0, lastConfirmAt - loadEnded),
      walBytesPerSecond: Math.round(walBytes / RUN_SECONDS),
      producerRecordsPerRequest: Number((producer.stats.records / Math.max(1, producer.stats.requests)).toFixed(1)),
      commitToKafkaMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN },
    };
  } finally {
    await stream.stop().catch(() => undefined);
    await auditTrail?.close();
    await producer.disconnect().catch(() => undefined);
  }
}

function report(label: string, phase: CapturePhase): void {
  console.log(
    `${label}: ${phase.rowsCommitted} rows committed (${phase.insertRowsPerSecond} rows/s), ${phase.rowsCaptured} captured = ` +
      `${phase.capturedRowsPerSecond} row changes/s; commit-to-Kafka p50 ${phase.commitToKafkaMs.p50.toFixed(1)} ms, ` +
      `p99 ${phase.commitToKafkaMs.p99.toFixed(1)} ms, max ${phase.commitToKafkaMs.max.toFixed(1)} ms; ` +
      `drain ${phase.drainAfterLoadMs} ms; ${phase.producerRecordsPerRequest} records/request`,
  );
}

async function main(): Promise<void> {
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    if (PROFILE) {
      report('capture (profile)', await capture(admin, 'profile', ROWS_PER_TX, true));
      return;
    }
    const baselineSchema = `cdc_bench_base_${id}`;
    schemas.push(baselineSchema);
    await migrateTradingSchema(databaseUrl, baselineSchema);
    const baselineRows = await load(baselineSchema, RUN_SECONDS, ROWS_PER_TX);
    const baselineRate = baselineRows / RUN_SECONDS;
    console.log(`baseline: ${baselineRows} rows committed in ${ROWS_PER_TX}-row transactions = ${baselineRate.toFixed(0)} rows/s`);
    const multiRow = await capture(admin, 'multi', ROWS_PER_TX, true);
    report(`capture, ${ROWS_PER_TX}-row transactions, audit trail on`, multiRow);
    const noAudit = await capture(admin, 'noaudit', ROWS_PER_TX, false);
    report(`capture, ${ROWS_PER_TX}-row transactions, audit trail off`, noAudit);
    const singleRow = await capture(admin, 'single', 1, true);
    report('capture, one-row transactions, audit trail on', singleRow);
    const yearsTo2p53 = Number.MAX_SAFE_INTEGER / multiRow.walBytesPerSecond / (365.25 * 86_400);
    console.log(
      `WAL written while capturing: ${(multiRow.walBytesPerSecond / 1e6).toFixed(1)} MB/s; at that rate source.lsn ` +
        `stays below 2^53 for ${yearsTo2p53.toFixed(0)} years of continuous load`,
    );
    const result = {
      benchmark: 'cdc-listener',
      writers: WRITERS,
      secondsPerPhase: RUN_SECONDS,
      producerValidation: VALIDATE,
      baseline: { rowsPerTransaction: ROWS_PER_TX, rowsCommitted: baselineRows, rowsPerSecond: Math.round(baselineRate) },
      capture: { multiRow, noAudit, singleRow },
      captureVsBaseline: Number((multiRow.capturedRowsPerSecond / baselineRate).toFixed(3)),
      target: { rowChangesPerSecond: 20_000, p99CommitToKafkaMs: 100 },
      yearsOfWalBelow2p53AtMeasuredRate: Math.round(yearsTo2p53),
    };
    console.log(
      `captured ${(result.captureVsBaseline * 100).toFixed(0)}% of the baseline insert rate; target >= 20000 row changes/s, p99 < 100 ms`,
    );
    mkdirSync(join(process.cwd(), 'bench-results'), { recursive: true });
    writeFileSync(join(process.cwd(), 'bench-results', 'cdc-listener.json'), JSON.stringify(result, null, 2) + '\n');
  } finally {
    // The walsender lets a slot go a moment after its stream ends: wait for it, then drop the slot.
    for (const slot of slots) {
      for (let attempt = 0; attempt < 100; attempt++) {
        const active = await admin.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active', [slot]);
        if (active.rowCount === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await admin.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [slot]);
      await admin.query(`DROP PUBLICATION IF EXISTS "${slot}"`);
    }
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    const existing = new Set(await kafkaAdmin.listTopics());
    await kafkaAdmin.deleteTopics({ topics: topics.filter((topic) => existing.has(topic)) });
    await kafkaAdmin.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
