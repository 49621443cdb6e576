// historical-data-manager: query latency for one symbol over one day in 30 days of archive, with a
// cold and a warm local cache, and the archive's rows/s through the real broker.
//
//   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/historical-query.ts
//
// Needs the local infrastructure (tools/infra/up). Everything goes to the tributary-test bucket and
// a PostgreSQL catalog schema of this run, both removed at the end.
//
// 1. Data: BENCH_DAYS (30) days x 24 hours of trades for 6 symbols over 3 source partitions
//    (2 symbols each), BENCH_ROWS_PER_FILE (2000) rows per partition-hour, written by the archive's
//    own path minus Kafka: TopicArchiver (ParquetPartitionWriter -> S3 upload -> catalog commit).
// 2. Queries through the service's HTTP API (the app in this process): one symbol over one whole
//    day, JSON, for BENCH_QUERY_DAYS (5) different days. Cold: the first query of a day (its files
//    fetched from S3 into an empty cache); warm: the same query again, BENCH_WARM_REPEATS (5) times.
//    Baseline in the same run: DuckDB alone reading the same local files with the same filter (the
//    engine's floor, no HTTP, no catalog).
// 3. Archive through the broker: BENCH_ARCHIVE_ROWS (200000) trades produced to a 6-partition topic
//    first, then the service started; rows/s from its start until the catalog holds every row.
//    Twice: with the settings before early flushes (3 partitions at once, 1 MiB fetches, flush on
//    the 2 s age), the baseline, then with the current defaults. BENCH_ARCHIVE_ROWS=0 skips it.
// Results go to bench-results/historical-query.json.
//
// BENCH_ONLY=archive runs part 3 alone, BENCH_ARCHIVE_RUNS (2) times with the current defaults,
// and writes the runs and their median to bench-results/historical-archive.json:
//
//   BENCH_ONLY=archive SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/bench/historical-query.ts

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { CATALOG } from '@tributary/contracts';
import { ClusterAdmin, kafkaConnection, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createS3Client } from '@tributary/observability';
import { startTestApp, testConfig } from '../../apps/historical-data-manager/src/testing/archive-app';
import { datasetOfTopic } from '../../apps/historical-data-manager/src/app/archive/archive-layout';
import {
  catalogDataSource,
  migrateCatalog,
} from '../../apps/historical-data-manager/src/app/archive/catalog-database';
import {
  archiveColumnsOf,
  type ArchiveRecord,
  ParquetPartitionWriter,
} from '../../apps/historical-data-manager/src/app/archive/parquet-partition-writer';
import {
  type ArchivedDataset,
  TopicArchiver,
} from '../../apps/historical-data-manager/src/app/archive/topic-archiver';
import { HistoryQueryService } from '../../apps/historical-data-manager/src/app/query/history-query.service';
import { authorizedFetch, stackDatabaseUrl } from '@tributary/testing';

const DAYS = Number(process.env['BENCH_DAYS'] ?? 30);
const ROWS_PER_FILE = Number(process.env['BENCH_ROWS_PER_FILE'] ?? 2000);
const QUERY_DAYS = Number(process.env['BENCH_QUERY_DAYS'] ?? 5);
const WARM_REPEATS = Number(process.env['BENCH_WARM_REPEATS'] ?? 5);
const ARCHIVE_ROWS = Number(process.env['BENCH_ARCHIVE_ROWS'] ?? 200_000);
const ONLY = process.env['BENCH_ONLY'];
const ARCHIVE_RUNS = Number(process.env['BENCH_ARCHIVE_RUNS'] ?? 2);
const run = `${process.pid}_${Date.now().toString(36)}`;
const schema = `hdm_bench_${run}`;
const bucket = 'tributary-test';
const SYMBOLS = [
  ['AAPL', 'MSFT'],
  ['SPY', 'QQQ'],
  ['TSLA', 'NVDA'],
] as const;
const DAY_NS = 86_400_000_000_000n;
const HOUR_NS = 3_600_000_000_000n;
const START = BigInt(Date.parse('2026-01-01T00:00:00Z')) * 1_000_000n;

const dataset: ArchivedDataset = {
  name: `market_trades_bench_${run}`,
  topic: 'market.trades',
  schemaVersion: CATALOG['market.trades'].version,
  columns: archiveColumnsOf(CATALOG['market.trades'].schema),
  retentionDays: null,
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** One day of one partition: 24 hours x ROWS_PER_FILE trades (one file per hour). */
function dayOfTrades(day: number, partition: number, firstOffset: bigint): ArchiveRecord[] {
  const symbols = SYMBOLS[partition] as readonly string[];
  const records: ArchiveRecord[] = [];
  const spacing = HOUR_NS / BigInt(ROWS_PER_FILE);
  for (let hour = 0; hour < 24; hour++) {
    const hourStart = START + BigInt(day) * DAY_NS + BigInt(hour) * HOUR_NS;
    for (let i = 0; i < ROWS_PER_FILE; i++) {
      const symbol = symbols[i % symbols.length] as string;
      const ts = hourStart + BigInt(i) * spacing + BigInt(partition);
      records.push({
        offset: firstOffset + BigInt(records.length),
        key: symbol,
        eventTimeNs: ts,
        value: {
          symbol,
          price: 100 + (i % 500) / 10,
          size: 1 + (i % 300),
          exchange: 'Q',
          tradeId: `${day}-${partition}-${hour}-${i}`,
          conditions: i % 3 ? [] : ['@'],
          ts: ts.toString(),
        },
      });
    }
  }
  return records;
}

async function emptyPrefix(s3: S3Client, prefix: string): Promise<void> {
  for (;;) {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
    if (keys.length === 0) return;
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
  }
}

async function generate(
  s3: S3Client,
  databaseUrl: string,
): Promise<{ files: number; rows: number; seconds: number }> {
  await migrateCatalog(databaseUrl, schema);
  const catalog = await catalogDataSource(databaseUrl, schema, 'hdm-bench').initialize();
  const writer = await ParquetPartitionWriter.open();
  const archiver = new TopicArchiver(writer, s3, bucket, catalog, schema);
  const started = performance.now();
  let files = 0;
  let rows = 0;
  try {
    for (let day = 0; day < DAYS; day++) {
      for (let partition = 0; partition < SYMBOLS.length; partition++) {
        const records = dayOfTrades(day, partition, BigInt(day) * BigInt(24 * ROWS_PER_FILE));
        files += (await archiver.archive(dataset, partition, records)).committed.length;
        rows += records.length;
      }
      process.stdout.write(`\rgenerated day ${day + 1}/${DAYS}`);
    }
  } finally {
    writer.close();
    await catalog.destroy();
  }
  process.stdout.write('\n');
  return { files, rows, seconds: (performance.now() - started) / 1000 };
}

async function queries(cacheDir: string, keysOfDay: (from: bigint) => Promise<string[]>) {
  const service = await startTestApp(
    testConfig({
      ARCHIVE_CATALOG_SCHEMA: schema,
      HISTORY_CACHE_DIR: cacheDir,
      HISTORY_QUERY_MAX_ROWS: '10000000',
    }),
  );
  const duck = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await duck.connect();
  const cold: number[] = [];
  const warm: number[] = [];
  const baseline: number[] = [];
  let rowsPerQuery = 0;
  try {
    const history = service.app.get(HistoryQueryService);
    const cache = await history.localCache();
    for (let q = 0; q < QUERY_DAYS; q++) {
      const day = Math.floor(((q + 0.5) * DAYS) / QUERY_DAYS);
      const from = START + BigInt(day) * DAY_NS;
      const url = `${service.baseUrl}/v1/datasets/${dataset.name}/rows?from=${from}&to=${from + DAY_NS}&symbols=SPY`;
      const timed = async () => {
        const t0 = performance.now();
        const response = await authorizedFetch(url);
        const rows = (await response.json()) as unknown[];
        if (response.status !== 200) throw new Error(`query answered ${response.status}`);
        rowsPerQuery = rows.length;
        return performance.now() - t0;
      };
      cold.push(await timed());
      for (let r = 0; r < WARM_REPEATS; r++) warm.push(await timed());
      // DuckDB alone over the same (now local) files: the day's 24 files of partition 1
      const lease = await cache.acquire((await keysOfDay(from)).map((key) => ({ key })));
      try {
        const list = lease.paths.map((p) => `'${p}'`).join(', ');
        for (let r = 0; r < WARM_REPEATS; r++) {
          const t0 = performance.now();
          await connection.runAndReadAll(
            `SELECT * FROM read_parquet([${list}], union_by_name = true)
              WHERE ts >= ${from} AND ts < ${from + DAY_NS} AND symbol = 'SPY' ORDER BY ts, kafka_partition, kafka_offset`,
          );
          baseline.push(performance.now() - t0);
        }
      } finally {
        lease.release();
      }
    }
  } finally {
    connection.closeSync();
    duck.closeSync();
    await service.close();
  }
  return { cold, warm, baseline, rowsPerQuery };
}

/** Settings of the archive before early flushes and larger fetches: the baseline of the same run. */
const HOLD_UNTIL_AGE = {
  ARCHIVE_FLUSH_BLOCKED_MIN_ROWS: '100000000',
  ARCHIVE_PARTITIONS_CONCURRENTLY: '3',
  ARCHIVE_FETCH_MAX_BYTES_PER_PARTITION: '1048576',
};

async function archiveThroughBroker(
  brokers: string,
  label: string,
  overrides: Record<string, string>,
): Promise<{ topic: string } & Record<string, number | string>> {
  const topic = `hdm.bench.archive.${label}.${run}`;
  const archiveResult: Record<string, number> = {};
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: brokers }), `hdm-bench-${run}`);
  const admin = new ClusterAdmin(connection);
  // Idempotent, acks=all, keys placed as the Java client places them.
  const producer = new TypedProducer(connection, { service: `hdm-bench-${run}`, validate: false });
  await producer.connect();
  const archiveSchema = `${schema}_${label}`;
  const groupId = `hdm-bench-${label}-${run}`;
  try {
    await admin.ensureConfigs([{ topic, numPartitions: 6 }]);
    const t0 = START;
    for (let sent = 0; sent < ARCHIVE_ROWS; sent += 10_000) {
      const messages = Array.from({ length: Math.min(10_000, ARCHIVE_ROWS - sent) }, (_, j) => {
        const i = sent + j;
        const symbol = `S${i % 60}`;
        const ts = (t0 + BigInt(i) * 1_000_003n).toString();
        const value = {
          symbol,
          price: 100 + (i % 100) / 10,
          size: 1 + (i % 50),
          exchange: 'Q',
          tradeId: `T${i}`,
          conditions: [],
          ts,
        };
        return { key: symbol, value: JSON.stringify(value), headers: { 'event.time': ts } };
      });
      await producer.sendRaw(topic, messages);
    }
    const service = await startTestApp(
      testConfig({
        KAFKA_GROUP_ID: groupId,
        ARCHIVE_TOPICS: `${topic}:market.trades`,
        ARCHIVE_CATALOG_SCHEMA: archiveSchema,
        KAFKA_VALIDATE_EVENTS: 'true',
        ...overrides,
      }),
    );
    const started = performance.now();
    const catalog = await catalogDataSource(stackDatabaseUrl(), archiveSchema, 'hdm-bench')
      .initialize()
      .catch(() => undefined);
    let archived = 0;
    let files = 0;
    try {
      while (archived < ARCHIVE_ROWS && performance.now() - started < 600_000) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const [row] = (await (catalog ?? { query: async () => [] })
          .query(
            `SELECT coalesce(sum(row_count), 0)::int AS rows, count(*)::int AS files FROM "${archiveSchema}".files`,
          )
          .catch(() => [{ rows: 0, files: 0 }])) as { rows: number; files: number }[];
        archived = row?.rows ?? 0;
        files = row?.files ?? 0;
      }
    } finally {
      const seconds = (performance.now() - started) / 1000;
      await service.close();
      await catalog?.query(`DROP SCHEMA IF EXISTS "${archiveSchema}" CASCADE`);
      await catalog?.destroy();
      Object.assign(archiveResult, {
        rows: archived,
        files,
        seconds: round(seconds * 1000) / 1000,
        rowsPerSecond: Math.round(archived / seconds),
      });
    }
  } finally {
    await producer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics([topic, `${topic}.dlq`]).catch(() => undefined);
    await admin.close();
  }
  return { topic, ...archiveResult };
}

/** Part 3 alone: the archive's rows/s through the broker, ARCHIVE_RUNS times, and the median. */
async function archiveOnly(): Promise<void> {
  const config = testConfig({});
  const s3 = createS3Client(config);
  const runs: Record<string, number | string>[] = [];
  try {
    for (let i = 0; i < ARCHIVE_RUNS; i++) {
      const result = await archiveThroughBroker(config.KAFKA_BROKERS.join(','), `run${i}`, {});
      await emptyPrefix(s3, `${datasetOfTopic(result.topic)}/`);
      runs.push(result);
      console.log(
        `archive through the broker (run ${i + 1}): ${result['rows']} rows in ${result['seconds']} s = ${result['rowsPerSecond']} rows/s (${result['files']} files)`,
      );
    }
  } finally {
    s3.destroy();
  }
  const medianRowsPerSecond = Math.round(median(runs.map((r) => Number(r['rowsPerSecond']))));
  console.log(`archive through the broker: median ${medianRowsPerSecond} rows/s over ${runs.length} runs`);
  mkdirSync('bench-results', { recursive: true });
  const results = {
    benchmark: 'historical-archive',
    at: new Date().toISOString(),
    archiveThroughBroker: { partitions: 6, topicRowsProduced: ARCHIVE_ROWS, medianRowsPerSecond, runs },
  };
  writeFileSync(join('bench-results', 'historical-archive.json'), JSON.stringify(results, null, 2) + '\n');
  console.log('written to bench-results/historical-archive.json');
}

async function main(): Promise<void> {
  if (ONLY === 'archive') return archiveOnly();
  if (ONLY !== undefined) throw new Error(`BENCH_ONLY=${ONLY}: only "archive" is known`);
  const config = testConfig({});
  const s3 = createS3Client(config);
  const cacheDir = mkdtempSync(join(tmpdir(), 'hdm-bench-cache-'));
  const catalog = await catalogDataSource(config.DATABASE_URL, schema, 'hdm-bench-keys');
  const archivedTopics: string[] = [];
  const archive: Record<string, Record<string, number | string>> = {};
  try {
    const generated = await generate(s3, config.DATABASE_URL);
    console.log(
      `data: ${generated.rows} rows in ${generated.files} files over ${DAYS} days, written in ${generated.seconds.toFixed(1)} s (${Math.round(generated.rows / generated.seconds)} rows/s through writer + S3 + catalog)`,
    );
    await catalog.initialize();
    // the day's files of partition 1 (SPY), as the catalog lists them
    const keysOfDay = async (from: bigint) =>
      (
        (await catalog.query(
          `SELECT object_key FROM "${schema}".files WHERE dataset = $1 AND source_partition = 1 AND min_event_time_ns >= $2 AND min_event_time_ns < $3`,
          [dataset.name, from.toString(), (from + DAY_NS).toString()],
        )) as { object_key: string }[]
      ).map((r) => r.object_key);

    const measured = await queries(cacheDir, keysOfDay);
    const summary = {
      coldMedianMs: round(median(measured.cold)),
      coldMaxMs: round(Math.max(...measured.cold)),
      warmMedianMs: round(median(measured.warm)),
      warmMaxMs: round(Math.max(...measured.warm)),
      duckdbAloneMedianMs: round(median(measured.baseline)),
      rowsPerQuery: measured.rowsPerQuery,
    };
    console.log(
      `one symbol, one day of ${DAYS}: cold ${summary.coldMedianMs} ms (max ${summary.coldMaxMs}), warm ${summary.warmMedianMs} ms (max ${summary.warmMaxMs}), DuckDB alone ${summary.duckdbAloneMedianMs} ms; ${summary.rowsPerQuery} rows per answer`,
    );

    if (ARCHIVE_ROWS > 0) {
      for (const [label, overrides] of [
        ['holdUntilAge', HOLD_UNTIL_AGE],
        ['current', {}],
      ] as const) {
        const result = await archiveThroughBroker(
          config.KAFKA_BROKERS.join(','),
          label.toLowerCase(),
          overrides,
        );
        archivedTopics.push(result.topic);
        archive[label] = result;
        console.log(
          `archive through the broker (${label}): ${result['rows']} rows in ${result['seconds']} s = ${result['rowsPerSecond']} rows/s (${result['files']} files)`,
        );
      }
    }

    mkdirSync('bench-results', { recursive: true });
    const results = {
      benchmark: 'historical-query',
      at: new Date().toISOString(),
      data: {
        days: DAYS,
        symbols: 6,
        sourcePartitions: 3,
        rowsPerFile: ROWS_PER_FILE,
        ...generated,
        how: 'TopicArchiver (writer + S3 + catalog), no Kafka',
      },
      query: {
        ...summary,
        queriedDays: QUERY_DAYS,
        warmRepeats: WARM_REPEATS,
        format: 'json',
        coldMs: measured.cold.map(round),
        warmMs: measured.warm.map(round),
      },
      archiveThroughBroker:
        ARCHIVE_ROWS > 0
          ? { partitions: 6, topicRowsProduced: ARCHIVE_ROWS, flushAge: '2s', runs: archive }
          : null,
    };
    writeFileSync(join('bench-results', 'historical-query.json'), JSON.stringify(results, null, 2) + '\n');
    console.log('written to bench-results/historical-query.json');
  } finally {
    await emptyPrefix(s3, `${dataset.name}/`);
    for (const topic of archivedTopics) await emptyPrefix(s3, `${datasetOfTopic(topic)}/`);
    if (catalog.isInitialized) {
      await catalog.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await catalog.destroy();
    }
    s3.destroy();
    rmSync(cacheDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
