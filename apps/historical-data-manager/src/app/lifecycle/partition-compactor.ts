import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { DuckDBConnection } from '@duckdb/node-api';
import { partitionPrefix } from '../archive/archive-layout';
import { uploadWithChecksum } from '../integrity/object-checksum';
import type { PlannedCompaction } from './compaction-plan';
import type { CompactedFile, CompactionTrigger, LifecycleCatalog } from './lifecycle-catalog';

/** The object key of a merged file: the offset range it holds, and the compaction that wrote it. */
export function compactedObjectKey(plan: PlannedCompaction, compactionId: string): string {
  const pad = (offset: bigint) => offset.toString().padStart(20, '0');
  const first = plan.inputs.reduce((min, f) => (f.firstOffset < min ? f.firstOffset : min), plan.inputs[0]?.firstOffset as bigint);
  const last = plan.inputs.reduce((max, f) => (f.lastOffset > max ? f.lastOffset : max), plan.inputs[0]?.lastOffset as bigint);
  return (
    `${partitionPrefix(plan.dataset, { date: plan.partitionDate, hour: plan.partitionHour })}` +
    `${plan.sourceTopic}+${plan.sourcePartition}+${pad(first)}+${pad(last)}.c${compactionId}.parquet`
  );
}

/** Count and order-independent checksum of a set of Parquet files, to prove a merge kept every row. */
interface RowFingerprint {
  rows: bigint;
  checksum: string;
}

export interface CompactionOutcome {
  id: string;
  status: 'committed' | 'conflict' | 'failed';
  inputs: number;
  rows: number;
  inputBytes: number;
  outputKey: string | null;
  outputBytes: number | null;
  error: string | null;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Merges the small files of one hour partition of one source partition into one Parquet file:
 * the inputs are fetched from S3, DuckDB reads them (by column name) and writes one file in
 * offset order (the order the archive writes), ZSTD, with statistics; the merge is refused unless
 * its row count and a checksum over every row equal the inputs'. The file is uploaded under a key
 * of its own, then swapped into the catalog in one transaction (see
 * {@link LifecycleCatalog.commitCompaction}); the inputs stay in the bucket for the grace period.
 */
export class PartitionCompactor {
  constructor(
    private readonly catalog: LifecycleCatalog,
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly connection: () => Promise<DuckDBConnection>,
    private readonly instance: string,
  ) {}

  async compact(plan: PlannedCompaction, trigger: CompactionTrigger, graceMs: number): Promise<CompactionOutcome> {
    const id = await this.catalog.beginCompaction(plan, trigger, this.instance);
    const key = compactedObjectKey(plan, id);
    const base = {
      id,
      inputs: plan.inputs.length,
      rows: plan.inputs.reduce((sum, f) => sum + f.rows, 0),
      inputBytes: plan.inputs.reduce((sum, f) => sum + f.bytes, 0),
    };
    const dir = await mkdtemp(join(tmpdir(), 'tributary-compaction-'));
    let uploaded = false;
    try {
      const paths = await Promise.all(
        plan.inputs.map(async (file, index) => {
          const path = join(dir, `in-${index}.parquet`);
          const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: file.key }));
          await pipeline(object.Body as Readable, createWriteStream(path));
          return path;
        }),
      );
      const output = join(dir, 'out.parquet');
      const merged = await this.merge(paths, output);
      await this.catalog.noteCompactionOutput(id, key);
      const checksum = await uploadWithChecksum(this.s3, this.bucket, key, output);
      uploaded = true;
      const file: CompactedFile = {
        key,
        rows: Number(merged.rows),
        bytes: checksum.bytes,
        columnStats: merged.columnStats,
        sha256: checksum.sha256,
        storeChecksum: checksum.storeChecksum,
      };
      const status = await this.catalog.commitCompaction(id, plan, file, graceMs);
      if (status === 'conflict') {
        await this.deleteObject(key);
        await this.catalog.finishCompaction(id, 'conflict', 'another compaction or retention took some of these files first');
        return { ...base, status, outputKey: null, outputBytes: null, error: null };
      }
      return { ...base, status, outputKey: key, outputBytes: file.bytes, error: null };
    } catch (error) {
      const message = (error as Error).message;
      if (uploaded) await this.deleteObject(key).catch(() => undefined);
      await this.catalog.finishCompaction(id, 'failed', message).catch(() => undefined);
      return { ...base, status: 'failed', outputKey: null, outputBytes: null, error: message };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async merge(inputs: string[], output: string): Promise<{ rows: bigint; columnStats: CompactedFile['columnStats'] }> {
    const connection = await this.connection();
    try {
      const source = `read_parquet([${inputs.map(literal).join(', ')}], union_by_name = true)`;
      await connection.run(
        `COPY (SELECT * FROM ${source} ORDER BY kafka_offset)
           TO ${literal(output)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
      );
      const before = await fingerprint(connection, source);
      const after = await fingerprint(connection, `read_parquet(${literal(output)})`);
      if (before.rows !== after.rows || before.checksum !== after.checksum) {
        throw new Error(
          `the merged file differs from its inputs (${after.rows} rows, checksum ${after.checksum}; ` +
            `inputs ${before.rows} rows, checksum ${before.checksum}): nothing was swapped`,
        );
      }
      const stats = (
        await connection.runAndReadAll(
          `SELECT path_in_schema AS name, min(stats_min_value) AS min, max(stats_max_value) AS max,
                  sum(stats_null_count)::BIGINT AS nulls
             FROM parquet_metadata(${literal(output)}) GROUP BY path_in_schema`,
        )
      ).getRowObjectsJS();
      const columnStats: CompactedFile['columnStats'] = {};
      for (const s of stats) {
        columnStats[String(s['name'])] = {
          min: s['min'] == null ? null : String(s['min']),
          max: s['max'] == null ? null : String(s['max']),
          nulls: Number(s['nulls'] ?? 0),
        };
      }
      return { rows: after.rows, columnStats };
    } finally {
      connection.closeSync();
    }
  }

  private async deleteObject(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }
}

async function fingerprint(connection: DuckDBConnection, source: string): Promise<RowFingerprint> {
  const [row] = (
    await connection.runAndReadAll(
      `SELECT count(*)::BIGINT AS n, coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR AS checksum FROM ${source} t`,
    )
  ).getRowObjectsJS();
  return { rows: BigInt(row?.['n'] as bigint), checksum: String(row?.['checksum']) };
}
