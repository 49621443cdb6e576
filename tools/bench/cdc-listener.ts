// Change capture of cdc-listener: row changes per second from PostgreSQL to Kafka and commit-to-Kafka
// latency, against the raw insert rate of the same load into PostgreSQL, measured in the same run.
//
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/cdc-listener.ts
//
// Environment: BENCH_SECONDS (default 15 per phase), BENCH_WRITERS (4 sessions), BENCH_ROWS_PER_TX
// (100), BENCH_STEADY_RATE (20000 rows/s offered in the steady phase; 0 leaves it out),
// BENCH_VALIDATE (false: the schema check of each event, off in production like the service's
// image, on by default elsewhere), BENCH_LINGER_MS (5) and BENCH_MAX_BATCH_BYTES (1000000): the
// producer's KAFKA_PRODUCER_LINGER_MS and KAFKA_PRODUCER_MAX_BATCH_BYTES, BENCH_ONLY=<phase> (one
// capture phase alone: multi, noaudit, single or steady, e.g. for `node --cpu-prof`; BENCH_PROFILE=1
// is BENCH_ONLY=multi).
//
// The writers run in a child process, as other services would: the capture (in this process, wired
// as the service wires it) has this process to itself, and its CPU time per row change captured is
// measured (the share of the two cores it gets varies with whatever else runs on the machine; the
// CPU it needs per change does not). Phases, each in its own schema, WRITERS sessions committing
// for BENCH_SECONDS:
//   1. baseline: transactions of ROWS_PER_TX inserted rows into orders, back to back, no slot (the
//      raw insert rate);
//   2. capture: the same load while the change stream (pgoutput slot, Debezium envelope, idempotent
//      producer with acks=all, audit trail written, LSN confirmed after both) captures it to Kafka;
//   3. capture without the audit trail (CDC_AUDIT_LOG=false);
//   4. capture of one-row transactions (the commit rate, BEGIN/END records per row);
//   5. steady: ROWS_PER_TX-row transactions paced to STEADY_RATE rows/s in all, audit trail on (the
//      latency at the target rate rather than at saturation).
// Latency, per transaction, from the commit time PostgreSQL reports: to Kafka acknowledging all of
// it (commit-to-Kafka) and to its position being confirmed to the slot (Kafka and the audit trail
// written). The WAL written per second in phase 2 gives how long source.lsn stays below 2^53.
// Everything created (schemas, slots, publications, topics) is dropped at the end.
// Results go to bench-results/cdc-listener.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Client } from 'pg';
import { ClusterAdmin, ensureTopics, kafkaConnection, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import { migrateTradingSchema } from '../../apps/cdc-listener/src/app/trading-schema/trading-database';
import { AuditTrailWriter } from '../../apps/cdc-listener/src/app/audit/audit-trail-writer';
import { ChangePublisher } from '../../apps/cdc-listener/src/app/capture/change-publisher';
import { ChangeStream } from '../../apps/cdc-listener/src/app/capture/change-stream';
import { deliveryOf } from '../../apps/cdc-listener/src/app/capture/delivery';
import { stackDatabaseUrl } from '@tributary/testing';

const RUN_SECONDS = Number(process.env['BENCH_SECONDS'] ?? 15);
const WRITERS = Number(process.env['BENCH_WRITERS'] ?? 4);
const ROWS_PER_TX = Number(process.env['BENCH_ROWS_PER_TX'] ?? 100);
const STEADY_RATE = Number(process.env['BENCH_STEADY_RATE'] ?? 20_000);
const VALIDATE = process.env['BENCH_VALIDATE'] === 'true';
const LINGER_MS = Number(process.env['BENCH_LINGER_MS'] ?? 5);
const MAX_BATCH_BYTES = Number(process.env['BENCH_MAX_BATCH_BYTES'] ?? 1_000_000);
/** One capture phase alone (multi, noaudit, single, steady), e.g. under `node --cpu-prof`; no results file. */
const ONLY = process.env['BENCH_ONLY'] ?? (process.env['BENCH_PROFILE'] === '1' ? 'multi' : undefined);
const databaseUrl = stackDatabaseUrl();
const brokers = process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';
const id = `${process.pid}_${Date.now().toString(36)}`;
const logger = createLogger('cdc-listener-bench', 'silent');
const kafkaConfig = parseKafkaEnv({ KAFKA_BROKERS: brokers });
const kafka = kafkaConnection(kafkaConfig, 'cdc-listener-bench');
const schemas: string[] = [];
const slots: string[] = [];
const topics: string[] = [];

/**
 * The writers, a child process: WRITERS sessions inserting `rowsPerTx` rows per transaction until
 * the deadline, back to back or paced to `rate` rows/s in all; prints the rows committed.
 */
const WRITER_SOURCE = `
const settings = JSON.parse(process.argv[1]);
const { Client } = require(settings.pg);
const { databaseUrl, schema, seconds, rowsPerTx, writers, rate } = settings;
const sql = 'INSERT INTO "' + schema + '".orders (client_order_id, account, symbol, side, order_type, quantity, limit_price) ' +
  "SELECT $1 || '-' || n, 'ACC-BENCH', 'AAPL', 'buy', 'limit', 10, 187.12345678 FROM generate_series(1, $2) AS n";
async function writer(session) {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const interval = rate > 0 ? (rowsPerTx * writers * 1000) / rate : 0;
  let rows = 0;
  for (let n = 0; Date.now() < deadline; n++) {
    if (interval > 0) {
      const due = started + n * interval;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
      if (Date.now() >= deadline) break;
    }
    await client.query(sql, ['bench-' + session + '-' + rows, rowsPerTx]);
    rows += rowsPerTx;
  }
  await client.end();
  return rows;
}
Promise.all(Array.from({ length: writers }, (_, session) => writer(session))).then(
  (counts) => console.log(counts.reduce((sum, rows) => sum + rows, 0)),
  (error) => { console.error(error); process.exit(1); },
);
`;

/** Runs the writers for `seconds`; resolves with the rows committed. */
function load(schema: string, seconds: number, rowsPerTx: number, rate = 0): Promise<number> {
  const settings = { pg: require.resolve('pg'), databaseUrl, schema, seconds, rowsPerTx, writers: WRITERS, rate };
  return new Promise((resolve, reject) => {
    const writers = spawn(process.execPath, ['-e', WRITER_SOURCE, JSON.stringify(settings)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    writers.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    writers.once('error', reject);
    writers.once('exit', (code) => {
      const rows = Number(output.trim());
      if (code === 0 && Number.isInteger(rows)) resolve(rows);
      else reject(new Error(`the writers stopped with exit code ${code}: ${output}`));
    });
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function walLsn(admin: Client): Promise<bigint> {
  const result = await admin.query<{ lsn: string }>(`SELECT (pg_current_wal_lsn() - '0/0')::text AS lsn`);
  return BigInt(result.rows[0]?.lsn ?? '0');
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
}

function latencyOf(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
}

interface CapturePhase {
  rowsPerTransaction: number;
  /** Rows/s offered in all (0: back to back). */
  offeredRowsPerSecond: number;
  audit: boolean;
  rowsCommitted: number;
  rowsCaptured: number;
  insertRowsPerSecond: number;
  capturedRowsPerSecond: number;
  drainAfterLoadMs: number;
  /** CPU time (user + system) of the capture process per 1000 row changes captured. */
  cpuMsPerThousandChanges: number;
  /** Share of one core the capture process used while capturing. */
  cpuCores: number;
  walBytesPerSecond: number;
  producerRecordsPerRequest: number;
  /** From the commit to Kafka acknowledging the whole transaction. */
  commitToKafkaMs: Latency;
  /** From the commit to its position confirmed to the slot (after Kafka and the audit trail). */
  commitToConfirmMs: Latency;
}

async function capture(admin: Client, name: string, rowsPerTx: number, audit: boolean, rate = 0): Promise<CapturePhase> {
  const schema = `cdc_bench_${name}_${id}`;
  const slotName = schema;
  const prefix = `cdcbench${name}${id.replace(/_/g, '')}`;
  const transactionTopic = `${prefix}.transactions`;
  schemas.push(schema);
  slots.push(slotName);
  topics.push(transactionTopic, `${prefix}.${schema}.orders`);
  await migrateTradingSchema(databaseUrl, schema);
  const producer = new TypedProducer(kafka, {
    service: 'cdc-listener-bench',
    logger,
    lingerMs: LINGER_MS,
    maxBatchBytes: MAX_BATCH_BYTES,
    validate: VALIDATE,
  });
  const publisher = new ChangePublisher(producer, { topicPrefix: prefix, transactionTopic, tombstonesOnDelete: true, validate: VALIDATE });
  const auditTrail = audit ? new AuditTrailWriter({ databaseUrl, schema, excludedTables: ['audit_log'] }) : null;
  const kafkaMs: number[] = [];
  const confirmMs: number[] = [];
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
    ...deliveryOf(publisher, auditTrail, (transaction) => {
      kafkaMs.push(Date.now() - transaction.commitTimeMicros / 1000);
    }),
    onConfirmed: (_lsn, transaction) => {
      if (!transaction) return;
      const now = Date.now();
      confirmMs.push(now - transaction.commitTimeMicros / 1000);
      captured += transaction.end.event_count ?? 0;
      lastConfirmAt = now;
    },
  });
  try {
    await stream.prepare(admin);
    await ensureTopics(kafka, [publisher.transactionSpec, publisher.topicOf(schema, 'orders', ['id'])], { replicationFactor: 1 });
    // Connected before the load starts: the phases measure the capture, not the first connection.
    await producer.connect();
    const running = stream.run().catch(() => undefined);
    while (!stream.streaming) await new Promise((resolve) => setTimeout(resolve, 50));
    const walBefore = await walLsn(admin);
    const cpuBefore = process.cpuUsage();
    const started = Date.now();
    const committedRows = await load(schema, RUN_SECONDS, rowsPerTx, rate);
    const loadEnded = Date.now();
    const walBytes = Number((await walLsn(admin)) - walBefore);
    while (captured < committedRows && Date.now() - loadEnded < 120_000) await new Promise((resolve) => setTimeout(resolve, 50));
    const captureSeconds = (Math.max(lastConfirmAt, loadEnded) - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const elapsedMs = Date.now() - started;
    await stream.stop();
    await running;
    return {
      rowsPerTransaction: rowsPerTx,
      offeredRowsPerSecond: rate,
      audit,
      rowsCommitted: committedRows,
      rowsCaptured: captured,
      insertRowsPerSecond: Math.round(committedRows / RUN_SECONDS),
      capturedRowsPerSecond: Math.round(captured / captureSeconds),
      drainAfterLoadMs: Math.max(0, lastConfirmAt - loadEnded),
      cpuMsPerThousandChanges: Number(((cpuMs / Math.max(1, captured)) * 1000).toFixed(1)),
      cpuCores: Number((cpuMs / elapsedMs).toFixed(2)),
      walBytesPerSecond: Math.round(walBytes / RUN_SECONDS),
      producerRecordsPerRequest: Number((producer.stats.records / Math.max(1, producer.stats.requests)).toFixed(1)),
      commitToKafkaMs: latencyOf(kafkaMs),
      commitToConfirmMs: latencyOf(confirmMs),
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
      `commit-to-confirm p50 ${phase.commitToConfirmMs.p50.toFixed(1)} ms, p99 ${phase.commitToConfirmMs.p99.toFixed(1)} ms; ` +
      `drain ${phase.drainAfterLoadMs} ms; ${phase.producerRecordsPerRequest} records/request; ` +
      `capture CPU ${phase.cpuMsPerThousandChanges} ms per 1000 changes (${phase.cpuCores} cores)`,
  );
}

async function main(): Promise<void> {
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    if (ONLY !== undefined) {
      const phases: Record<string, () => Promise<CapturePhase>> = {
        multi: () => capture(admin, 'multi', ROWS_PER_TX, true),
        noaudit: () => capture(admin, 'noaudit', ROWS_PER_TX, false),
        single: () => capture(admin, 'single', 1, true),
        steady: () => capture(admin, 'steady', ROWS_PER_TX, true, STEADY_RATE),
      };
      const phase = phases[ONLY];
      if (!phase) throw new Error(`BENCH_ONLY=${ONLY}: not one of ${Object.keys(phases).join(', ')}`);
      report(`${ONLY} alone`, await phase());
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
    const steady = STEADY_RATE > 0 ? await capture(admin, 'steady', ROWS_PER_TX, true, STEADY_RATE) : null;
    if (steady) report(`steady ${STEADY_RATE} rows/s offered, ${ROWS_PER_TX}-row transactions, audit trail on`, steady);
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
      producer: { lingerMs: LINGER_MS, maxBatchBytes: MAX_BATCH_BYTES },
      baseline: { rowsPerTransaction: ROWS_PER_TX, rowsCommitted: baselineRows, rowsPerSecond: Math.round(baselineRate) },
      capture: { multiRow, noAudit, singleRow, steady },
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
    // Only those that exist are deleted: a phase may have stopped before creating its topics.
    const kafkaAdmin = new ClusterAdmin(kafka);
    try {
      await kafkaAdmin.deleteTopics(topics);
    } finally {
      await kafkaAdmin.close();
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
