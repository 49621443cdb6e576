import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DuckDBAppender, type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { type DuckDbLimits, openDuckDb } from '../query/duckdb-limits';
import type { TSchema } from '@sinclair/typebox';
import { type HourPartition, hourPartitionOf } from './archive-layout';

/** SQL type of an archived value column. */
export type ArchiveColumnType = 'VARCHAR' | 'DOUBLE' | 'BIGINT' | 'BOOLEAN' | 'JSON';

export interface ArchiveColumn {
  name: string;
  type: ArchiveColumnType;
}

/**
 * The value columns of a topic's dataset, from the top-level properties of its event schema:
 * strings, numbers, integers and booleans keep their type; arrays and objects are stored as JSON
 * text. `ts` (epoch nanoseconds as a decimal string in the contracts) is stored separately.
 */
export function archiveColumnsOf(schema: TSchema): ArchiveColumn[] {
  const properties = (schema['properties'] ?? {}) as Record<string, TSchema>;
  return Object.entries(properties)
    .filter(([name]) => name !== 'ts')
    .map(([name, property]) => ({ name, type: columnTypeOf(property) }));
}

function columnTypeOf(property: TSchema): ArchiveColumnType {
  const variants = ((property['anyOf'] as TSchema[] | undefined) ?? [property]).filter((v) => v['type'] !== 'null');
  const types = new Set(variants.map((v) => (v['const'] !== undefined ? typeof v['const'] : v['type'])));
  if (types.size !== 1) return 'JSON';
  const [type] = types;
  if (type === 'string') return 'VARCHAR';
  if (type === 'number') return 'DOUBLE';
  if (type === 'integer') return 'BIGINT';
  if (type === 'boolean') return 'BOOLEAN';
  return 'JSON';
}

/** One record to archive: its Kafka coordinates, event time and decoded value. */
export interface ArchiveRecord {
  offset: bigint;
  key: string | null;
  eventTimeNs: bigint;
  value: Record<string, unknown>;
}

/** A Parquet file written for one hour partition, on local disk until uploaded. */
export interface WrittenPartitionFile {
  partition: HourPartition;
  path: string;
  bytes: number;
  rows: number;
  firstOffset: bigint;
  lastOffset: bigint;
  minEventTimeNs: bigint;
  maxEventTimeNs: bigint;
  symbols: string[];
  columnStats: Record<string, { min: string | null; max: string | null; nulls: number }>;
}

/**
 * Writes the records of one topic partition as Parquet, one file per hour partition of event time,
 * with DuckDB's writer: ZSTD, dictionary encoding, column statistics, V1 data pages.
 *
 * Columns: `kafka_partition` INT32, `kafka_offset` INT64, `record_key`, the value columns, `ts`
 * INT64 (the exact event time in epoch nanoseconds, as in the contracts) and `event_time`
 * TIMESTAMP(MICROS, UTC) for engines that want a timestamp type. Why DuckDB and why these two time
 * columns: ARCHITECTURE.md, "Parquet library".
 */
export class ParquetPartitionWriter {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    private readonly compressionLevel: number,
  ) {}

  /** `limits` hold the writer's DuckDB instance to a memory and spill budget (the service passes its DUCKDB_* settings). */
  static async open(options: { threads?: number; compressionLevel?: number; limits?: DuckDbLimits } = {}): Promise<ParquetPartitionWriter> {
    const instance =
      options.limits === undefined
        ? await DuckDBInstance.create(':memory:', { threads: String(options.threads ?? 2) })
        : await openDuckDb(options.limits);
    const connection = await instance.connect();
    await connection.run(`SET TimeZone = 'UTC'`);
    return new ParquetPartitionWriter(instance, connection, options.compressionLevel ?? 1);
  }

  /** Writes `records` (one topic partition, offset order) into files under a new temporary folder. */
  async write(topicPartition: number, columns: ArchiveColumn[], records: ArchiveRecord[]): Promise<WrittenPartitionFile[]> {
    const dir = await mkdtemp(join(tmpdir(), 'tributary-archive-'));
    const table = `batch_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e9)}`;
    const valueColumns = columns.map((c) => `${quote(c.name)} ${c.type === 'JSON' ? 'VARCHAR' : c.type}`);
    await this.connection.run(
      `CREATE TEMP TABLE ${table} (kafka_partition INTEGER, kafka_offset BIGINT, record_key VARCHAR,
         ${valueColumns.map((c) => `${c}, `).join('')}ts BIGINT, hour_key VARCHAR)`,
    );
    try {
      const groups = new Map<string, { partition: HourPartition; records: ArchiveRecord[] }>();
      const appender = await this.connection.createAppender(table);
      for (const record of records) {
        const partition = hourPartitionOf(record.eventTimeNs);
        const hourKey = `${partition.date}T${partition.hour}`;
        let group = groups.get(hourKey);
        if (!group) groups.set(hourKey, (group = { partition, records: [] }));
        group.records.push(record);
        appendRecord(appender, topicPartition, columns, record, hourKey);
      }
      appender.closeSync();

      const files: WrittenPartitionFile[] = [];
      for (const [hourKey, group] of groups) {
        const path = join(dir, `${hourKey}.parquet`);
        await this.connection.run(
          `COPY (SELECT * EXCLUDE (hour_key), make_timestamp(ts // 1000)::TIMESTAMPTZ AS event_time
                   FROM ${table} WHERE hour_key = '${hourKey}' ORDER BY kafka_offset)
             TO '${path.replace(/'/g, "''")}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL ${this.compressionLevel},
                ROW_GROUP_SIZE 122880)`,
        );
        files.push(await this.describe(path, group.partition, group.records));
      }
      return files;
    } finally {
      await this.connection.run(`DROP TABLE IF EXISTS ${table}`);
    }
  }

  /** Removes the temporary folder of written files (after upload). */
  async discard(files: WrittenPartitionFile[]): Promise<void> {
    const dirs = new Set(files.map((f) => f.path.slice(0, f.path.lastIndexOf('/'))));
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }

  private async describe(path: string, partition: HourPartition, records: ArchiveRecord[]): Promise<WrittenPartitionFile> {
    let minTs = records[0]?.eventTimeNs ?? 0n;
    let maxTs = minTs;
    const symbols = new Set<string>();
    for (const r of records) {
      if (r.eventTimeNs < minTs) minTs = r.eventTimeNs;
      if (r.eventTimeNs > maxTs) maxTs = r.eventTimeNs;
      const symbol = r.value['symbol'] ?? r.value['underlying'];
      if (typeof symbol === 'string') symbols.add(symbol);
    }
    const stats = (
      await this.connection.runAndReadAll(
        `SELECT path_in_schema AS name, min(stats_min_value) AS min, max(stats_max_value) AS max, sum(stats_null_count)::BIGINT AS nulls
           FROM parquet_metadata('${path.replace(/'/g, "''")}') GROUP BY path_in_schema`,
      )
    ).getRowObjectsJS();
    const columnStats: WrittenPartitionFile['columnStats'] = {};
    for (const s of stats) {
      columnStats[String(s['name'])] = {
        min: s['min'] == null ? null : String(s['min']),
        max: s['max'] == null ? null : String(s['max']),
        nulls: Number(s['nulls'] ?? 0),
      };
    }
    const offsets = records.map((r) => r.offset);
    return {
      partition,
      path,
      bytes: (await stat(path)).size,
      rows: records.length,
      firstOffset: offsets[0] as bigint,
      lastOffset: offsets[offsets.length - 1] as bigint,
      minEventTimeNs: minTs,
      maxEventTimeNs: maxTs,
      symbols: [...symbols].sort(),
      columnStats,
    };
  }
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function appendRecord(
  appender: DuckDBAppender,
  topicPartition: number,
  columns: ArchiveColumn[],
  record: ArchiveRecord,
  hourKey: string,
): void {
  appender.appendInteger(topicPartition);
  appender.appendBigInt(record.offset);
  if (record.key === null) appender.appendNull();
  else appender.appendVarchar(record.key);
  for (const column of columns) {
    const v = record.value[column.name];
    if (v === undefined || v === null) appender.appendNull();
    else if (column.type === 'VARCHAR') appender.appendVarchar(String(v));
    else if (column.type === 'DOUBLE') appender.appendDouble(Number(v));
    else if (column.type === 'BIGINT') appender.appendBigInt(BigInt(v as number | string));
    else if (column.type === 'BOOLEAN') appender.appendBoolean(Boolean(v));
    else appender.appendVarchar(JSON.stringify(v));
  }
  appender.appendBigInt(record.eventTimeNs);
  appender.appendVarchar(hourKey);
  appender.endRow();
}
