import {
  type ConfigOf,
  env,
  type EnvVar,
  mergeSpecs,
  serviceEnv,
  postgresEnv,
  s3Env,
} from '@tributary/config';
import { kafkaEnv } from '@tributary/kafka';
import { authEnv } from '@tributary/service';
import { resolveArchivedTopics } from './app/archive/archived-topics';
import { parseRetentionPolicy } from './app/lifecycle/retention-policy';
import { batchEnv } from './app/batch/batch-env';

/** `ARCHIVE_TOPICS`: a list whose every entry must name a topic with a known schema. */
function archiveTopicsVariable(): EnvVar<string[]> {
  const list = env.list({
    default: '',
    description:
      'Topics archived to Parquet, comma-separated; `<topic>:<catalog topic>` archives a topic with the schema of a catalog topic (default: none)',
  });
  return {
    ...list,
    parse: (raw) => {
      const topics = list.parse(raw);
      resolveArchivedTopics(topics);
      return topics;
    },
  };
}

/** `ARCHIVE_RETENTION`: `<dataset>=<days>d|forever` entries, checked at start-up. */
function archiveRetentionVariable(): EnvVar<string[]> {
  const list = env.list({
    default: '',
    description:
      'Files kept per dataset, comma-separated `<dataset>=<days>d` or `<dataset>=forever`, `default=<days>d` for the others, e.g. `market_trades=30d,default=90d` (default: keep everything)',
  });
  return {
    ...list,
    parse: (raw) => {
      const entries = list.parse(raw);
      parseRetentionPolicy(entries);
      return entries;
    },
  };
}

/** Environment variables of historical-data-manager, validated at start-up (see README.md for each). */
export const historicalDataManagerEnv = mergeSpecs(
  serviceEnv(3105),
  kafkaEnv,
  authEnv,
  {
    KAFKA_GROUP_ID: env.string({
      default: 'tributary-historical-data-manager',
      description: 'Consumer group of this service; instances sharing it split the partitions',
    }),
  },
  postgresEnv,
  s3Env,
  {
    ARCHIVE_TOPICS: archiveTopicsVariable(),
    ARCHIVE_FLUSH_ROWS: env.int({
      default: 100_000,
      min: 1,
      description: 'A dataset buffer is written to S3 once it holds this many rows',
    }),
    ARCHIVE_FLUSH_BYTES: env.int({
      default: 32 * 1024 * 1024,
      min: 1,
      description:
        'A dataset buffer is written to S3 once its records hold this many bytes (Kafka value sizes)',
    }),
    ARCHIVE_FLUSH_AGE_MS: env.durationMs({
      default: '2s',
      min: 10,
      description: 'A dataset buffer is written to S3 at the latest this long after its first record arrived',
    }),
    ARCHIVE_FLUSH_BLOCKED_MIN_ROWS: env.int({
      default: 5000,
      min: 1,
      description:
        'A buffer holding this many rows is written at once when every partition the consumer works on holds a batch (nothing more can arrive before a flush)',
    }),
    ARCHIVE_PARTITIONS_CONCURRENTLY: env.int({
      default: 12,
      min: 1,
      max: 1000,
      description: 'Partitions of the archived topics consumed at once (each holds one batch until its flush)',
    }),
    ARCHIVE_FETCH_MAX_BYTES_PER_PARTITION: env.int({
      default: 4 * 1024 * 1024,
      min: 1024,
      description: 'Most bytes one fetch brings per partition (larger fetches make fewer, larger flushes)',
    }),
    ARCHIVE_CATALOG_SCHEMA: env.string({
      default: 'archive',
      description: 'PostgreSQL schema of the archive catalog (created and migrated at start-up)',
    }),
  },
  {
    ARCHIVE_COMPACTION_INTERVAL_MS: env.durationMs({
      default: '15m',
      min: 0,
      description:
        'How often compaction merges the small files of settled hour partitions (0: only on demand, `POST /v1/datasets/:dataset/compact`)',
    }),
    ARCHIVE_COMPACTION_DELAY_MS: env.durationMs({
      default: '10m',
      min: 0,
      description: 'Scheduled compaction leaves an hour partition alone until this long after the hour ended (late records settle first)',
    }),
    ARCHIVE_COMPACTION_TARGET_BYTES: env.int({
      default: 128 * 1024 * 1024,
      min: 1024,
      description: 'Files below this size are merged, into files of at most this size (input bytes)',
    }),
    ARCHIVE_COMPACTION_MIN_FILES: env.int({
      default: 2,
      min: 2,
      max: 100_000,
      description: 'A merge needs at least this many small files of one hour partition and source partition',
    }),
    ARCHIVE_OBSOLETE_GRACE_MS: env.durationMs({
      default: '10m',
      min: 0,
      description:
        'Objects that compaction replaced or retention removed are deleted from S3 this long later (queries that selected them finish first)',
    }),
    ARCHIVE_RETENTION: archiveRetentionVariable(),
    ARCHIVE_RETENTION_INTERVAL_MS: env.durationMs({
      default: '1h',
      min: 0,
      description: 'How often retention removes the files that are due (0: never)',
    }),
  },
  {
    HISTORY_CACHE_DIR: env.string({
      default: '/tmp/tributary-history-cache',
      description: 'Folder of the local cache of archive objects that queries read (created when missing)',
    }),
    HISTORY_CACHE_MAX_BYTES: env.int({
      default: 1024 * 1024 * 1024,
      min: 1024,
      description: 'Bytes the local object cache keeps on disk; least recently used objects are evicted first',
    }),
    HISTORY_CACHE_FETCH_CONCURRENCY: env.int({
      default: 8,
      min: 1,
      max: 256,
      description: 'Archive objects fetched from S3 at once into the cache, over all queries',
    }),
    HISTORY_QUERY_MAX_RANGE_MS: env.durationMs({
      default: '744h',
      min: 1000,
      description: 'Longest time range one query may span (default 31 days); a longer one is refused with 422',
    }),
    HISTORY_QUERY_MAX_ROWS: env.int({
      default: 1_000_000,
      min: 1,
      description: 'Most rows one query may return; more is refused with 413 (or 422 for a larger limit)',
    }),
    HISTORY_QUERY_THREADS: env.int({
      default: 2,
      min: 1,
      max: 64,
      description: 'DuckDB threads the query API uses',
    }),
    HISTORY_QUERY_MAX_BYTES: env.int({
      default: 256 * 1024 * 1024,
      min: 1024,
      description:
        'Bytes of archive files one query may read (the catalog sizes of the files it selects, checked before any download; at most `HISTORY_CACHE_MAX_BYTES`); more is refused with 429',
    }),
    HISTORY_QUERY_MAX_CONCURRENT: env.int({
      default: 8,
      min: 1,
      max: 1000,
      description: 'Rows queries running at once in one instance; one more is refused with 429 and Retry-After',
    }),
    HISTORY_QUERY_MAX_CONCURRENT_PER_CALLER: env.int({
      default: 2,
      min: 1,
      max: 1000,
      description:
        'Rows queries one caller (the authenticated principal) runs at once; one more is refused with 429 and Retry-After',
    }),
    DUCKDB_MEMORY_LIMIT: env.int({
      default: 192 * 1024 * 1024,
      min: 16 * 1024 * 1024,
      description:
        'Bytes of memory each DuckDB instance of the service may use (`memory_limit`; the archive writer, the query API, compaction and the batch layer have one each; sized for a 1 GiB pod)',
    }),
    DUCKDB_MAX_TEMP_BYTES: env.int({
      default: 1024 * 1024 * 1024,
      min: 0,
      description:
        'Bytes each DuckDB instance may spill to disk (`max_temp_directory_size`, in a `duckdb-spill` folder of `HISTORY_CACHE_DIR`, of `BATCH_WORK_DIR` for batch runs)',
    }),
  },
  {
    ARCHIVE_MAX_SNAPSHOTS: env.int({
      default: 100,
      min: 1,
      max: 100_000,
      description: 'Snapshots kept at most; creating one more is refused with 409 until one is released',
    }),
  },
  {
    ARCHIVE_VERIFY_INTERVAL_MS: env.durationMs({
      default: '6h',
      min: 0,
      description:
        'How often every dataset\'s catalog is checked against the bucket: missing and differing objects (HEAD: size and stored checksum) and objects no file owns (0: only on demand, `POST /v1/datasets/:dataset/verify`)',
    }),
    ARCHIVE_VERIFY_ORPHAN_GRACE_MS: env.durationMs({
      default: '1h',
      min: 0,
      description:
        'An object under a dataset prefix that no catalog row owns counts as orphaned only once it is this old (a flush uploads before its catalog commit)',
    }),
    ARCHIVE_VERIFY_CONCURRENCY: env.int({
      default: 8,
      min: 1,
      max: 64,
      description: 'Objects the verification job checks at once (HEAD requests, or reads for checksums)',
    }),
  },
  batchEnv,
);

export type HistoricalDataManagerConfig = ConfigOf<typeof historicalDataManagerEnv>;
