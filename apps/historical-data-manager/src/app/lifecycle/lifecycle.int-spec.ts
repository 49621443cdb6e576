import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectsCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { CATALOG } from '@tributary/contracts';
import { createS3Client } from '@tributary/observability';
import { authorizedFetch, readInfraEnv } from '@tributary/testing';
import { DataSource } from 'typeorm';
import { downloadObject } from '../../testing/archived-objects';
import { type RunningApp, startTestApp, testConfig } from '../../testing/archive-app';
import { catalogDataSource, migrateCatalog } from '../archive/catalog-database';
import { archiveColumnsOf, type ArchiveRecord, ParquetPartitionWriter } from '../archive/parquet-partition-writer';
import { type ArchivedDataset, TopicArchiver } from '../archive/topic-archiver';
import { ArchiveLifecycleService } from './archive-lifecycle.service';

const infraEnv = readInfraEnv();
const run = `${process.pid}_${Date.now()}`;
const catalogSchema = `hdm_lifecycle_it_${run}`;
const bucket = 'tributary-test';
/**
 * Longer than any test here runs: an object outlives its grace period only when a test says the period
 * is over ({@link graceRunsOut}), never because this machine was slow between two steps.
 */
const GRACE_MS = 3_600_000;
const HOUR = 3_600_000_000_000n;
const DAY = 24n * HOUR;
const H10 = BigInt(Date.parse('2026-11-01T10:00:00Z')) * 1_000_000n;
const H11 = H10 + HOUR;
const TRADE_COLUMNS = archiveColumnsOf(CATALOG['market.trades'].schema);

function dataset(suffix: string, overrides: Partial<ArchivedDataset> = {}): ArchivedDataset {
  return {
    name: `lc_${suffix}_${run}`,
    // the catalog's trades topic, so the query API knows the column types; offsets are unique over
    // every dataset of this test (one counter per topic partition), as the catalog's archived offsets are
    topic: 'market.trades',
    schemaVersion: CATALOG['market.trades'].version,
    columns: TRADE_COLUMNS,
    retentionDays: null,
    ...overrides,
  };
}

const compacted = dataset('compacted');
const concurrent = dataset('concurrent');
const snapshotted = dataset('snapshotted');
const retained = dataset('retained');
const untouched = dataset('untouched');
const evolving = dataset('evolving');
const settling = dataset('settling');
const ALL = [compacted, concurrent, snapshotted, retained, untouched, evolving, settling];
const SYMBOLS = ['AAPL', 'SPY', 'QQQ'];

/** Snapshots kept at once in this test's catalog: room for the tests that take one, and a quota to reach. */
const MAX_SNAPSHOTS = 4;

describe('archive lifecycle: compaction, snapshots, retention, schema versions', () => {
  const s3: S3Client = createS3Client(testConfig({}));
  const nextOffset = new Map<string, bigint>();
  let catalog: DataSource;
  let writer: ParquetPartitionWriter;
  let archiver: TopicArchiver;
  let service: RunningApp;
  let duck: DuckDBInstance;
  let dir: string;

  /** Archives `count` trades of one source partition from `startNs`, `stepNs` apart, as one file per hour. */
  async function archive(target: ArchivedDataset, partition: number, startNs: bigint, count: number, stepNs = 1_000_000_007n) {
    const id = `${target.topic}/${partition}`;
    const first = nextOffset.get(id) ?? 1000n;
    const records: ArchiveRecord[] = [];
    for (let i = 0; i < count; i++) {
      const ts = startNs + BigInt(i) * stepNs + BigInt(partition);
      const symbol = SYMBOLS[(i + partition) % SYMBOLS.length] as string;
      const value: Record<string, unknown> = {
        symbol,
        price: 100 + (Number(first % 997n) + i) / 64,
        size: 1 + i,
        exchange: 'Q',
        tradeId: `${id}-${first + BigInt(i)}`,
        ts: ts.toString(),
      };
      if (target.columns.some((c) => c.name === 'conditions')) value['conditions'] = i % 2 ? ['@', 'I'] : [];
      records.push({ offset: first + BigInt(i), key: symbol, eventTimeNs: ts, value });
    }
    nextOffset.set(id, first + BigInt(count));
    await archiver.archive(target, partition, records);
  }

  async function rows(target: ArchivedDataset, params: Record<string, string> = {}): Promise<Record<string, unknown>[]> {
    const query = new URLSearchParams({ from: '2026-01-01', to: new Date(Date.now() + 86_400_000).toISOString(), ...params });
    const response = await authorizedFetch(`${service.baseUrl}/v1/datasets/${target.name}/rows?${query.toString()}`);
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, unknown>[];
  }

  /** A JSON answer of the service, typed by the caller. */
  async function get<T>(path: string): Promise<T> {
    const response = await authorizedFetch(`${service.baseUrl}${path}`);
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  }

  async function post(path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await authorizedFetch(`${service.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function catalogFiles(target: ArchivedDataset): Promise<{ object_key: string; schema_version: number; first_offset: string; last_offset: string; row_count: string }[]> {
    return catalog.query(
      `SELECT object_key, schema_version, first_offset, last_offset, row_count FROM "${catalogSchema}".files
        WHERE dataset = $1 ORDER BY object_key`,
      [target.name],
    );
  }

  /** Row count and order-independent checksum of every row of the dataset's committed files, read by DuckDB. */
  async function checksum(target: ArchivedDataset): Promise<{ rows: bigint; checksum: string }> {
    const files = await catalogFiles(target);
    const paths = await Promise.all(files.map((f) => downloadObject(s3, bucket, f.object_key, dir)));
    const connection = await duck.connect();
    try {
      const list = paths.map((p) => `'${p}'`).join(', ');
      const reader = await connection.runAndReadAll(
        `SELECT count(*)::BIGINT AS n, sum(hash(kafka_partition, kafka_offset, record_key, symbol, price, size, exchange, tradeId,
                conditions, ts, event_time)::HUGEINT)::VARCHAR AS h
           FROM read_parquet([${list}], union_by_name = true)`,
      );
      const [row] = reader.getRowObjectsJS();
      return { rows: row?.['n'] as bigint, checksum: String(row?.['h']) };
    } finally {
      connection.closeSync();
    }
  }

  /**
   * Ends the grace period of retired objects now. The catalog decides with its own clock when a retired
   * object may go (`delete_after`, set to the retirement time plus the grace period).
   */
  async function graceRunsOut(keys: readonly string[]): Promise<void> {
    await catalog.query(`UPDATE "${catalogSchema}".retired_files SET delete_after = now() WHERE object_key = ANY($1::text[])`, [keys]);
  }

  /** One run of the deletion of retired objects, as the service schedules it. */
  function sweep(): Promise<string[]> {
    return service.app.get(ArchiveLifecycleService).sweep();
  }

  async function objectExists(key: string): Promise<boolean> {
    try {
      await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return true;
    } catch (error) {
      if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw error;
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hdm-lifecycle-it-'));
    await migrateCatalog(infraEnv['DATABASE_URL'] as string, catalogSchema);
    catalog = await catalogDataSource(infraEnv['DATABASE_URL'] as string, catalogSchema, 'hdm-lifecycle-it').initialize();
    writer = await ParquetPartitionWriter.open();
    archiver = new TopicArchiver(writer, s3, bucket, catalog, catalogSchema);
    duck = await DuckDBInstance.create(':memory:');
    service = await startTestApp(
      testConfig({
        ARCHIVE_CATALOG_SCHEMA: catalogSchema,
        ARCHIVE_COMPACTION_INTERVAL_MS: '0',
        ARCHIVE_OBSOLETE_GRACE_MS: String(GRACE_MS),
        ARCHIVE_RETENTION: `${retained.name}=30d`,
        ARCHIVE_RETENTION_INTERVAL_MS: '0',
        HISTORY_CACHE_DIR: join(dir, 'cache'),
        HISTORY_QUERY_MAX_RANGE_MS: '8760h',
        ARCHIVE_MAX_SNAPSHOTS: String(MAX_SNAPSHOTS),
      }),
    );
  });

  afterAll(async () => {
    await service?.close();
    writer?.close();
    for (const target of ALL) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${target.name}/` }));
      const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    }
    await catalog?.query(`DROP SCHEMA IF EXISTS "${catalogSchema}" CASCADE`);
    await catalog?.destroy();
    s3.destroy();
    duck?.closeSync();
    rmSync(dir, { recursive: true, force: true });
  });

  it('compaction merges the small files of an hour partition and keeps every row exactly (count and checksum)', async () => {
    for (const hour of [H10, H11]) {
      for (let batch = 0; batch < 6; batch++) {
        for (const partition of [0, 1]) await archive(compacted, partition, hour + BigInt(batch) * 60n * 1_000_000_000n, 50);
      }
    }
    const before = await rows(compacted);
    const sumBefore = await checksum(compacted);
    expect(before).toHaveLength(1200);
    expect(sumBefore.rows).toBe(1200n);
    const oldKeys = (await catalogFiles(compacted)).map((f) => f.object_key);
    expect(oldKeys).toHaveLength(24);

    const oneHour = await post(`/v1/datasets/${compacted.name}/compact`, { date: '2026-11-01', hour: 10 });
    expect(oneHour.status).toBe(200);
    expect(oneHour.body).toMatchObject({ partitions: 1, committed: 2, failed: 0, inputFiles: 12, outputFiles: 2, rows: 600 });
    const rest = await post(`/v1/datasets/${compacted.name}/compact`, {});
    expect(rest.body).toMatchObject({ partitions: 1, committed: 2, inputFiles: 12, outputFiles: 2 });
    expect((await post(`/v1/datasets/${compacted.name}/compact`, {})).body).toMatchObject({ partitions: 0, committed: 0 });

    const files = await catalogFiles(compacted);
    expect(files).toHaveLength(4);
    expect(files.map((f) => Number(f.row_count))).toEqual([300, 300, 300, 300]);
    expect(await rows(compacted)).toEqual(before);
    expect(await checksum(compacted)).toEqual(sumBefore);

    const history = await get<{ compactions: Record<string, unknown>[] }>(`/v1/datasets/${compacted.name}/compactions`);
    expect(history.compactions).toHaveLength(4);
    for (const c of history.compactions) expect(c).toMatchObject({ status: 'committed', trigger: 'api', inputFiles: 6, inputRows: 300 });

    // the replaced objects stay for the grace period, then go
    await sweep();
    for (const key of oldKeys) expect(await objectExists(key)).toBe(true);
    await graceRunsOut(oldKeys);
    await sweep();
    for (const key of oldKeys) expect(await objectExists(key)).toBe(false);
    for (const f of files) expect(await objectExists(f.object_key)).toBe(true);
  });

  it('a query running while compaction swaps the files sees either every old file or the merged one, never a mix', async () => {
    for (let batch = 0; batch < 40; batch++) await archive(concurrent, 0, H10 + BigInt(batch) * 30n * 1_000_000_000n, 25);
    const expected = await rows(concurrent);
    expect(expected).toHaveLength(1000);

    let done = false;
    const compaction = post(`/v1/datasets/${concurrent.name}/compact`, {}).finally(() => {
      done = true;
    });
    const answers: number[] = [];
    while (!done) {
      const answer = await rows(concurrent);
      expect(answer).toEqual(expected);
      answers.push(answer.length);
    }
    expect((await compaction).body).toMatchObject({ committed: 1, inputFiles: 40 });
    expect(answers.length).toBeGreaterThan(0);
    expect(await rows(concurrent)).toEqual(expected);
    expect(await catalogFiles(concurrent)).toHaveLength(1);
  });

  it('a snapshot query returns the same rows after new data arrived and after compaction; releasing it frees its files', async () => {
    for (let batch = 0; batch < 4; batch++) await archive(snapshotted, 0, H10 + BigInt(batch) * 60n * 1_000_000_000n, 30);
    const pinned = (await catalogFiles(snapshotted)).map((f) => f.object_key);
    const created = await post('/v1/snapshots', { name: `backtest-${run}`, datasets: [snapshotted.name] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: `backtest-${run}`, datasets: [{ name: snapshotted.name, files: 4, rows: 120 }] });
    expect((await post('/v1/snapshots', { name: `backtest-${run}` })).status).toBe(409);
    expect((await post('/v1/snapshots', { name: `other-${run}`, datasets: ['no_such_dataset'] })).status).toBe(404);
    const asOf = await rows(snapshotted, { snapshot: `backtest-${run}` });
    expect(asOf).toHaveLength(120);

    // new data in the same hour and the next, then compaction of everything
    for (let batch = 4; batch < 7; batch++) await archive(snapshotted, 0, H10 + BigInt(batch) * 60n * 1_000_000_000n, 30);
    await archive(snapshotted, 0, H11, 30);
    await archive(snapshotted, 0, H11 + 60_000_000_000n, 30);
    expect((await post(`/v1/datasets/${snapshotted.name}/compact`, {})).body).toMatchObject({ committed: 2, inputFiles: 9 });
    expect(await rows(snapshotted)).toHaveLength(270);
    expect(await rows(snapshotted, { snapshot: `backtest-${run}` })).toEqual(asOf);

    // past the grace period the pinned objects are still there; the other replaced ones are gone
    const replaced = (await get<{ retired: { key: string }[] }>(`/v1/datasets/${snapshotted.name}/retired`)).retired.map((r) => r.key);
    expect(replaced).toHaveLength(9);
    await graceRunsOut(replaced);
    await sweep();
    for (const key of pinned) expect(await objectExists(key)).toBe(true);
    for (const key of replaced.filter((k) => !pinned.includes(k))) expect(await objectExists(key)).toBe(false);
    const retired = await get<{ retired: { pinnedBy: string[] }[] }>(`/v1/datasets/${snapshotted.name}/retired`);
    expect(retired.retired.filter((r) => r.pinnedBy.includes(`backtest-${run}`))).toHaveLength(4);

    const listed = await get<{ snapshots: { name: string }[] }>('/v1/snapshots');
    expect(listed.snapshots.map((s) => s.name)).toContain(`backtest-${run}`);
    const released = await authorizedFetch(`${service.baseUrl}/v1/snapshots/backtest-${run}`, { method: 'DELETE' });
    expect(released.status).toBe(204);
    expect((await authorizedFetch(`${service.baseUrl}/v1/snapshots/backtest-${run}`, { method: 'DELETE' })).status).toBe(404);
    const gone = await authorizedFetch(
      `${service.baseUrl}/v1/datasets/${snapshotted.name}/rows?from=2026-11-01&to=2026-11-02&snapshot=backtest-${run}`,
    );
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ parameter: 'snapshot' });
    // released, they get a grace period of their own, then go
    await sweep();
    for (const key of pinned) expect(await objectExists(key)).toBe(true);
    await graceRunsOut(pinned);
    await sweep();
    for (const key of pinned) expect(await objectExists(key)).toBe(false);
  });

  it('keeps at most ARCHIVE_MAX_SNAPSHOTS snapshots: one more is refused with 409 naming the quota, and allowed again once one is released', async () => {
    await archive(snapshotted, 0, H11 + 120_000_000_000n, 10);
    const created: string[] = [];
    let refused: { status: number; body: unknown } | undefined;
    for (let i = 0; i <= MAX_SNAPSHOTS && refused === undefined; i++) {
      const answer = await post('/v1/snapshots', { name: `quota-${i}-${run}`, datasets: [snapshotted.name] });
      if (answer.status === 201) created.push(`quota-${i}-${run}`);
      else refused = answer;
    }
    try {
      expect(refused).toMatchObject({ status: 409, body: { message: expect.stringContaining(`at most ${MAX_SNAPSHOTS} (ARCHIVE_MAX_SNAPSHOTS)`) } });
      expect(created.length).toBeGreaterThan(0);
      expect((await authorizedFetch(`${service.baseUrl}/v1/snapshots/${created[0]}`, { method: 'DELETE' })).status).toBe(204);
      created.shift();
      const again = await post('/v1/snapshots', { name: `quota-again-${run}`, datasets: [snapshotted.name] });
      expect(again.status).toBe(201);
      created.push(`quota-again-${run}`);
    } finally {
      for (const name of created) await authorizedFetch(`${service.baseUrl}/v1/snapshots/${name}`, { method: 'DELETE' });
    }
  });

  it('retention removes only the files entirely older than the dataset retention, and spares what a snapshot pins until released', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const hourOf = (ns: bigint) => ns - (ns % HOUR);
    await archive(retained, 0, hourOf(now - 40n * DAY), 20);
    await archive(retained, 0, hourOf(now - 31n * DAY) + HOUR - 30_000_000_000n, 20, 1_000_000_000n); // its last rows are 31 days old
    await archive(retained, 0, hourOf(now - 29n * DAY), 20);
    await archive(retained, 0, hourOf(now - 2n * HOUR), 20);
    await archive(untouched, 0, hourOf(now - 40n * DAY), 20);
    const [oldest, older] = (await catalogFiles(retained)).sort((a, b) => Number(BigInt(a.first_offset) - BigInt(b.first_offset)));
    expect((await post('/v1/snapshots', { name: `audit-${run}`, datasets: [retained.name] })).status).toBe(201);

    const lifecycle = service.app.get(ArchiveLifecycleService);
    const outcomes = await lifecycle.applyRetention();
    expect(outcomes.find((o) => o.dataset === retained.name)).toMatchObject({ retentionDays: 30, files: 2, rows: 40 });
    expect(outcomes.find((o) => o.dataset === untouched.name)).toBeUndefined();
    expect((await catalogFiles(retained)).map((f) => f.object_key).sort()).not.toContain(oldest?.object_key);
    expect(await catalogFiles(retained)).toHaveLength(2);
    expect(await catalogFiles(untouched)).toHaveLength(1);
    expect(await rows(retained)).toHaveLength(40);
    const listed = await get<Record<string, unknown>>(`/v1/datasets/${retained.name}`);
    expect(listed).toMatchObject({ retentionDays: 30, files: 2 });
    expect((await get<{ retentionDays: number | null }>(`/v1/datasets/${untouched.name}`)).retentionDays).toBeNull();

    // the snapshot still reads the removed files; their objects outlive the grace period while it holds them
    expect(await rows(retained, { snapshot: `audit-${run}` })).toHaveLength(80);
    const removed = [oldest?.object_key as string, older?.object_key as string];
    await graceRunsOut(removed);
    await sweep();
    expect(await objectExists(oldest?.object_key as string)).toBe(true);
    expect((await lifecycle.applyRetention()).find((o) => o.dataset === retained.name)).toMatchObject({ files: 0 });
    await authorizedFetch(`${service.baseUrl}/v1/snapshots/audit-${run}`, { method: 'DELETE' });
    await graceRunsOut(removed);
    await sweep();
    expect(await objectExists(oldest?.object_key as string)).toBe(false);
    expect(await objectExists(older?.object_key as string)).toBe(false);
  });

  it('a column added in a later schema version is null in the rows of older files, also after compaction', async () => {
    const v1: ArchivedDataset = { ...evolving, schemaVersion: 1, columns: TRADE_COLUMNS.filter((c) => c.name !== 'conditions') };
    const v2: ArchivedDataset = { ...evolving, schemaVersion: 2 };
    for (let batch = 0; batch < 3; batch++) await archive(v1, 0, H10 + BigInt(batch) * 60n * 1_000_000_000n, 10);
    for (let batch = 3; batch < 6; batch++) await archive(v2, 0, H10 + BigInt(batch) * 60n * 1_000_000_000n, 10);
    expect((await catalogFiles(evolving)).map((f) => f.schema_version).sort()).toEqual([1, 1, 1, 2, 2, 2]);
    expect((await get<{ schemaVersion: number }>(`/v1/datasets/${evolving.name}`)).schemaVersion).toBe(2);

    const check = async () => {
      const answer = await rows(evolving, { columns: 'tradeId,conditions,ts' });
      expect(answer).toHaveLength(60);
      expect(answer.slice(0, 30).every((r) => r['conditions'] === null)).toBe(true);
      expect(answer.slice(30).every((r) => Array.isArray(r['conditions']))).toBe(true);
      return answer;
    };
    const before = await check();
    // versions are never merged into one file: each keeps its own columns and version
    expect((await post(`/v1/datasets/${evolving.name}/compact`, {})).body).toMatchObject({ committed: 2, inputFiles: 6 });
    expect((await catalogFiles(evolving)).map((f) => f.schema_version).sort()).toEqual([1, 2]);
    expect(await check()).toEqual(before);
  });

  it('scheduled compaction leaves the hours that have not settled yet (ended less than the delay ago) alone', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const currentHour = now - (now % HOUR);
    for (const start of [H10, currentHour]) {
      for (let batch = 0; batch < 3; batch++) await archive(settling, 0, start + BigInt(batch) * 1_000_000_000n, 5, 1_000_000n);
    }
    const lifecycle = service.app.get(ArchiveLifecycleService);
    const pass = await lifecycle.compact(settling.name, { date: null, hour: null }, 'schedule', new Date(Date.now() - 600_000));
    expect(pass).toMatchObject({ partitions: 1, committed: 1, inputFiles: 3 });
    const files = await catalogFiles(settling);
    expect(files).toHaveLength(4);
    const history = await get<{ compactions: Record<string, unknown>[] }>(`/v1/datasets/${settling.name}/compactions?limit=5`);
    expect(history.compactions).toEqual([expect.objectContaining({ trigger: 'schedule', status: 'committed', date: '2026-11-01', hour: 10 })]);
  });
});
