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
import { resolveArchivedTopics } from './app/archive/archived-topics';

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

/** Environment variables of historical-data-manager, validated at start-up (see README.md for each). */
export const historicalDataManagerEnv = mergeSpecs(
  serviceEnv(3105),
  kafkaEnv,
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
    ARCHIVE_CATALOG_SCHEMA: env.string({
      default: 'archive',
      description: 'PostgreSQL schema of the archive catalog (created and migrated at start-up)',
    }),
  },
);

export type HistoricalDataManagerConfig = ConfigOf<typeof historicalDataManagerEnv>;
