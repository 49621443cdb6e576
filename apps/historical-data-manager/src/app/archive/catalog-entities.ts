import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/*
 * The archive catalog: the truth for readers. An object in the bucket that has no `files` row does
 * not exist for queries (it may be the leftover of a flush that crashed before its catalog commit).
 * INT64 values (offsets, epoch nanoseconds) are bigint columns read back as strings: exact.
 */

/** One archived dataset: a topic's records, partitioned by event time. */
@Entity({ name: 'datasets' })
export class Dataset {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ name: 'source_topic', type: 'text' })
  sourceTopic!: string;

  @Column({ name: 'schema_version', type: 'integer' })
  schemaVersion!: number;

  /** Hive-style layout below the dataset prefix, e.g. `date=YYYY-MM-DD/hour=HH`. */
  @Column({ type: 'text' })
  partitioning!: string;

  /** How long files are kept, in days; null keeps them forever. */
  @Column({ name: 'retention_days', type: 'integer', nullable: true })
  retentionDays!: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/**
 * What the catalog knows of one Parquet object: where it sits in the layout, which offsets of which
 * source partition it holds, its size, event-time range, symbols and column statistics. `files`
 * holds these for current objects and `snapshot_files` a copy for each file a snapshot pinned.
 */
abstract class ParquetFileColumns {
  @Column({ name: 'partition_date', type: 'date' })
  partitionDate!: string;

  @Column({ name: 'partition_hour', type: 'smallint' })
  partitionHour!: number;

  @Column({ name: 'source_topic', type: 'text' })
  sourceTopic!: string;

  @Column({ name: 'source_partition', type: 'integer' })
  sourcePartition!: number;

  @Column({ name: 'first_offset', type: 'bigint' })
  firstOffset!: string;

  @Column({ name: 'last_offset', type: 'bigint' })
  lastOffset!: string;

  @Column({ name: 'row_count', type: 'bigint' })
  rowCount!: string;

  @Column({ name: 'byte_size', type: 'bigint' })
  byteSize!: string;

  /** Smallest and largest event time in the file, epoch nanoseconds. */
  @Column({ name: 'min_event_time_ns', type: 'bigint' })
  minEventTimeNs!: string;

  @Column({ name: 'max_event_time_ns', type: 'bigint' })
  maxEventTimeNs!: string;

  @Column({ type: 'text', array: true })
  symbols!: string[];

  /** Per column: `{ min, max, nulls }` as text, for pruning without opening the file. */
  @Column({ name: 'column_stats', type: 'jsonb' })
  columnStats!: Record<string, { min: string | null; max: string | null; nulls: number }>;

  @Column({ name: 'schema_version', type: 'integer' })
  schemaVersion!: number;
}

/** One committed Parquet object. */
@Entity({ name: 'files' })
@Index('files_dataset_partition_idx', ['dataset', 'partitionDate', 'partitionHour'])
export class ArchiveFile extends ParquetFileColumns {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ type: 'text' })
  dataset!: string;

  /** Object key in the archive bucket; derived from (topic, partition, first offset, last offset). */
  @Column({ name: 'object_key', type: 'text', unique: true })
  objectKey!: string;

  @CreateDateColumn({ name: 'committed_at', type: 'timestamptz' })
  committedAt!: Date;
}

/**
 * Per source partition, the next offset not yet archived. Moved forward in the transaction that
 * commits the files, so a record redelivered after a crash (offset below it) is skipped, and a
 * writer that lost its partition (its batch starts below it) cannot commit a second copy.
 */
@Entity({ name: 'archived_offsets' })
export class ArchivedOffset {
  @PrimaryColumn({ name: 'source_topic', type: 'text' })
  sourceTopic!: string;

  @PrimaryColumn({ name: 'source_partition', type: 'integer' })
  sourcePartition!: number;

  @Column({ name: 'next_offset', type: 'bigint' })
  nextOffset!: string;
}

/** One compaction of small files of a dataset hour partition (one source partition, one schema version) into one. */
@Entity({ name: 'compactions' })
export class Compaction {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ type: 'text' })
  dataset!: string;

  @Column({ name: 'partition_date', type: 'date' })
  partitionDate!: string;

  @Column({ name: 'partition_hour', type: 'smallint' })
  partitionHour!: number;

  @Column({ name: 'source_topic', type: 'text' })
  sourceTopic!: string;

  @Column({ name: 'source_partition', type: 'integer' })
  sourcePartition!: number;

  @Column({ name: 'schema_version', type: 'integer' })
  schemaVersion!: number;

  /** `api` or `schedule`. */
  @Column({ type: 'text' })
  trigger!: string;

  /** `running`, `committed`, `conflict` (another compaction took the files first), `failed`, `abandoned`. */
  @Column({ type: 'text' })
  status!: string;

  @Column({ name: 'input_files', type: 'integer' })
  inputFiles!: number;

  @Column({ name: 'input_rows', type: 'bigint' })
  inputRows!: string;

  @Column({ name: 'input_bytes', type: 'bigint' })
  inputBytes!: string;

  @Column({ name: 'output_key', type: 'text', nullable: true })
  outputKey!: string | null;

  @Column({ name: 'output_bytes', type: 'bigint', nullable: true })
  outputBytes!: string | null;

  @Column({ type: 'text', nullable: true })
  error!: string | null;

  @Column({ type: 'text' })
  instance!: string;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt!: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;
}

/**
 * A file taken out of the catalog by compaction or retention. Its object is deleted once
 * `delete_after` has passed (queries that selected it before finish first) and no snapshot pins it.
 */
@Entity({ name: 'retired_files' })
export class RetiredFile {
  @PrimaryColumn({ name: 'object_key', type: 'text' })
  objectKey!: string;

  @Column({ type: 'text' })
  dataset!: string;

  /** `compaction` or `retention`. */
  @Column({ type: 'text' })
  reason!: string;

  @Column({ name: 'compaction_id', type: 'bigint', nullable: true })
  compactionId!: string | null;

  @Column({ name: 'byte_size', type: 'bigint' })
  byteSize!: string;

  @Column({ name: 'retired_at', type: 'timestamptz' })
  retiredAt!: Date;

  @Column({ name: 'delete_after', type: 'timestamptz' })
  deleteAfter!: Date;
}

/** A named, frozen set of committed files of some datasets: queries "as of" it read exactly those. */
@Entity({ name: 'snapshots' })
export class Snapshot {
  @PrimaryColumn({ type: 'text' })
  name!: string;

  @Column({ type: 'text', array: true })
  datasets!: string[];

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/** A file as a snapshot recorded it (a copy of its `files` row, which compaction or retention may remove later). */
@Entity({ name: 'snapshot_files' })
export class SnapshotFile extends ParquetFileColumns {
  @PrimaryColumn({ type: 'text' })
  snapshot!: string;

  @PrimaryColumn({ name: 'object_key', type: 'text' })
  objectKey!: string;

  @Column({ type: 'text' })
  dataset!: string;

  @Column({ name: 'committed_at', type: 'timestamptz' })
  committedAt!: Date;
}

export const CATALOG_ENTITIES = [Dataset, ArchiveFile, ArchivedOffset, Compaction, RetiredFile, Snapshot, SnapshotFile];
