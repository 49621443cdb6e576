import { type ConfigOf, env, type EnvVar, type postgresEnv, type s3Env } from '@tributary/config';
import { parseBatchSchedule, type ScheduleEntry } from './batch-schedule';

/** `BATCH_SCHEDULE`: the list, each entry checked at start-up. */
function scheduleVariable(): EnvVar<ScheduleEntry[]> {
  const list = env.list({
    default: '',
    description:
      'Batch jobs run on a schedule, comma-separated `<job>@<period>` (e.g. `candles@1h,reconcile@1h`: every hour, over the hour that ended); periods in m, h or d, dividing a day (default: none)',
  });
  return { ...list, parse: (raw) => parseBatchSchedule(list.parse(raw)) };
}

/** Environment variables of the batch layer (merged into the service's spec in config.ts). */
export const batchEnv = {
  BATCH_SCHEDULE: scheduleVariable(),
  BATCH_SCHEDULE_DELAY: env.durationMs({
    default: '2m',
    min: 0,
    description:
      'A scheduled run starts this long after the end of the period it covers, so the archive has flushed its records (and late ones arrived)',
  }),
  BATCH_MAX_RANGE_MS: env.durationMs({
    default: '168h',
    min: 60_000,
    description: 'Longest time range one batch run may cover (default 7 days); a longer one is refused with 422',
  }),
  BATCH_MAX_QUEUED: env.int({
    default: 100,
    min: 1,
    max: 100_000,
    description: 'Batch runs queued or running at most (one runs at a time); a request beyond is refused with 429 naming the quota',
  }),
  BATCH_THREADS: env.int({ default: 2, min: 1, max: 64, description: 'DuckDB threads a batch run uses' }),
  BATCH_WORK_DIR: env.string({
    default: '/tmp/tributary-batch',
    description: 'Folder of the batch layer: its cache of archive objects and the Parquet files being written (created when missing)',
  }),
  BATCH_CACHE_MAX_BYTES: env.int({
    default: 1024 * 1024 * 1024,
    min: 1024,
    description: 'Bytes of archive objects the batch layer keeps in its local cache; least recently used go first',
  }),
  BATCH_FETCH_CONCURRENCY: env.int({
    default: 4,
    min: 1,
    max: 256,
    description: 'Archive objects a batch run fetches from S3 at once',
  }),
  BATCH_OBSOLETE_GRACE_MS: env.durationMs({
    default: '10m',
    min: 0,
    description:
      'Gold objects replaced by a rerun are deleted from S3 this long after the catalog swap, so queries that selected them can finish',
  }),
};

/** What the batch layer reads of the service's configuration. */
export type BatchConfig = ConfigOf<typeof batchEnv> &
  ConfigOf<typeof postgresEnv> &
  ConfigOf<typeof s3Env> & {
    readonly ARCHIVE_CATALOG_SCHEMA: string;
    readonly INSTANCE_ID?: string | undefined;
    /** The archived topics (`<topic>` or `<topic>:<catalog topic>`): which datasets a job may read. */
    readonly ARCHIVE_TOPICS?: readonly string[];
    /** Limits of the batch layer's DuckDB instance (the service's settings; defaults when absent). */
    readonly DUCKDB_MEMORY_LIMIT?: number;
    readonly DUCKDB_MAX_TEMP_BYTES?: number;
  };
