import { DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { ClusterAdmin, kafkaConnection, parseKafkaEnv, TypedProducer } from '@tributary/kafka';
import { createS3Client } from '@tributary/observability';
import { eventually, unusedPort, readInfraEnv, startService, type ServiceProcess } from '@tributary/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { committedObjectKeys, downloadObject } from '../../testing/archived-objects';
import { datasetOfTopic } from './archive-layout';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const topic = `hdm.archive.crash.${run}`;
const dataset = datasetOfTopic(topic);
const catalogSchema = `hdm_archive_crash_${run}`;
const groupId = `hdm-archive-crash-${run}`;
const bucket = 'tributary-test';
/** Chosen in beforeAll; every restart of the archiver listens on it again. */
let port = 0;
/**
 * How far into each round's stream of flushes the kill lands, in rows archived since the round began.
 * Each restart first waits out the killed member's session (KAFKA_SESSION_TIMEOUT_MS, the broker's
 * 6 s minimum here) before the group hands the partitions to the new member.
 */
const KILL_AFTER_ROWS = [1, 61, 181, 361];
const ROUND_TIMEOUT_MS = 120_000;
const s3Env = {
  S3_ENDPOINT: infraEnv['S3_ENDPOINT'] as string,
  S3_REGION: infraEnv['S3_REGION'] as string,
  S3_ACCESS_KEY_ID: infraEnv['S3_ACCESS_KEY_ID'] as string,
  S3_SECRET_ACCESS_KEY: infraEnv['S3_SECRET_ACCESS_KEY'] as string,
  S3_BUCKET: bucket,
  S3_FORCE_PATH_STYLE: true,
};

/** The built service, archiving the test topic in small, frequent flushes so a kill lands in one. */
function startArchiver(): ServiceProcess {
  return startService('historical-data-manager', {
    port,
    env: {
      LOG_LEVEL: 'warn',
      KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'] as string,
      KAFKA_GROUP_ID: groupId,
      KAFKA_SESSION_TIMEOUT_MS: '6s',
      DATABASE_URL: infraEnv['DATABASE_URL'] as string,
      ...s3Env,
      S3_FORCE_PATH_STYLE: 'true',
      ARCHIVE_TOPICS: `${topic}:market.trades`,
      ARCHIVE_CATALOG_SCHEMA: catalogSchema,
      ARCHIVE_FLUSH_ROWS: '60',
      ARCHIVE_FLUSH_AGE_MS: '50ms',
    },
  });
}

function trades(from: number, count: number) {
  const t0 = 1_767_229_199_000_000_007n;
  return Array.from({ length: count }, (_, j) => {
    const i = from + j;
    const ts = (t0 + BigInt(i) * 1_000_003n).toString();
    const symbol = `S${i % 17}`;
    return {
      symbol,
      price: 50 + i / 1000,
      size: 1 + (i % 9),
      exchange: 'Q',
      tradeId: `T${i}`,
      conditions: [],
      ts,
    };
  });
}

describe('archive after kill -9 of the service process', () => {
  const connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'] }), `hdm-crash-${run}`);
  const admin = new ClusterAdmin(connection);
  // Idempotent, acks=all, keys placed as the Java client places them.
  const producer = new TypedProducer(connection, { service: `hdm-crash-${run}`, validate: false });
  const s3 = createS3Client(s3Env);
  let catalog: DataSource;
  let service: ServiceProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    port = await unusedPort();
    await admin.ensureConfigs([{ topic, numPartitions: 3 }]);
    await producer.connect();
    catalog = await new DataSource({
      type: 'postgres',
      url: infraEnv['DATABASE_URL'] as string,
    }).initialize();
    dir = mkdtempSync(join(tmpdir(), 'hdm-archive-crash-'));
  });

  afterAll(async () => {
    if (service) await service.stop();
    await producer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.deleteTopics([topic, `${topic}.dlq`]).catch(() => undefined);
    await admin.close();
    for (;;) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${dataset}/` }));
      const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (keys.length === 0) break;
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
    await catalog?.query(`DROP SCHEMA IF EXISTS "${catalogSchema}" CASCADE`);
    await catalog?.destroy();
    s3.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function catalogRows(): Promise<number> {
    const [row] = await catalog
      .query(
        `SELECT coalesce(sum(row_count), 0)::text AS rows FROM "${catalogSchema}".files WHERE dataset = $1`,
        [dataset],
      )
      .catch(() => [{ rows: '0' }]);
    return Number(row.rows);
  }

  async function archivedOffsets(): Promise<Map<number, bigint>> {
    const rows: { source_partition: number; next_offset: string }[] = await catalog
      .query(
        `SELECT source_partition, next_offset FROM "${catalogSchema}".archived_offsets WHERE source_topic = $1`,
        [topic],
      )
      .catch(() => []);
    return new Map(rows.map((r) => [r.source_partition, BigInt(r.next_offset)]));
  }

  async function expectCommittedNotAheadOfArchive(): Promise<void> {
    // partitions without a commit yet are absent
    const committed = (await admin.committedOffsets(groupId, [topic])).get(topic) ?? new Map<number, bigint>();
    const archived = await archivedOffsets();
    for (const [partition, offset] of committed) {
      expect(offset).toBeLessThanOrEqual(archived.get(partition) ?? 0n);
    }
  }

  it('kill -9 at any moment of a stream of flushes, then a restart: every offset of every partition is archived exactly once', async () => {
    const perRound = 800;
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      service = startArchiver();
      await producer.sendRaw(
        topic,
        trades(round * perRound, perRound).map((t) => ({
          key: t.symbol,
          value: JSON.stringify(t),
          headers: { 'event.time': t.ts },
        })),
      );
      const before = await catalogRows();
      const killAfter = KILL_AFTER_ROWS[round] as number;
      await eventually(
        async () => (await catalogRows()) >= before + killAfter,
        `round ${round}: ${killAfter} rows archived`,
        ROUND_TIMEOUT_MS,
      );
      service.child.kill('SIGKILL');
      await service.exited;
      service = undefined;
      await expectCommittedNotAheadOfArchive();
    }

    service = startArchiver();
    const total = perRound * rounds;
    await eventually(
      async () => (await catalogRows()) >= total,
      'everything archived after the restarts',
      ROUND_TIMEOUT_MS,
    );
    expect(await catalogRows()).toBe(total);

    // per partition: the archived offsets are exactly 0 .. high watermark - 1, each once
    const paths: string[] = [];
    for (const key of await committedObjectKeys(catalog, catalogSchema, dataset)) {
      paths.push(await downloadObject(s3, bucket, key, dir));
    }
    const duck = await DuckDBInstance.create(':memory:');
    const connection = await duck.connect();
    try {
      const perPartition = (
        await connection.runAndReadAll(
          `SELECT kafka_partition, count(*)::BIGINT AS n, count(DISTINCT kafka_offset)::BIGINT AS distinct_offsets,
                  min(kafka_offset) AS first, max(kafka_offset) AS last, count(DISTINCT tradeId)::BIGINT AS trades
             FROM read_parquet([${paths.map((p) => `'${p}'`).join(', ')}]) GROUP BY kafka_partition ORDER BY kafka_partition`,
        )
      ).getRowObjectsJS();
      const watermarks = await admin.topicOffsets(topic);
      for (const { partition, high } of watermarks) {
        const row = perPartition.find((r) => r['kafka_partition'] === partition);
        if (high === '0') {
          expect(row).toBeUndefined();
          continue;
        }
        expect(row).toEqual({
          kafka_partition: partition,
          n: BigInt(high),
          distinct_offsets: BigInt(high),
          first: 0n,
          last: BigInt(high) - 1n,
          trades: BigInt(high),
        });
      }
    } finally {
      connection.closeSync();
      duck.closeSync();
    }
  }, 600_000); // the four rounds and the final restart, each within ROUND_TIMEOUT_MS
});
