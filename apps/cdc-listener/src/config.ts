import { type ConfigOf, env, mergeSpecs, serviceEnv, postgresEnv } from '@tributary/config';
import { TRADING_SCHEMA, TRADING_TABLES as DEFAULT_CAPTURED_TABLES } from '@tributary/contracts';
import { kafkaEnv } from '@tributary/kafka';
import { authEnv } from '@tributary/service';

/** The trading tables this service owns and, by default, captures (their change topics' DLQs are in the Kafka ACLs). */
export const TRADING_TABLES = DEFAULT_CAPTURED_TABLES;

/** Filled by the listener itself from the change stream; captured only when listed in CDC_TABLES. */
export const AUDIT_TABLE = 'audit_log';

/** Environment variables of cdc-listener, validated at start-up (see README.md for each). */
export const cdcListenerEnv = mergeSpecs(
  serviceEnv(3103),
  kafkaEnv,
  authEnv,
  {
    KAFKA_GROUP_ID: env.string({
      default: 'tributary-cdc-listener',
      description: 'Consumer group of this service; instances sharing it split the partitions',
    }),
  },
  postgresEnv,
  {
    CDC_SCHEMA: env.string({
      default: TRADING_SCHEMA,
      description: 'PostgreSQL schema of the trading tables (created and migrated by this service)',
    }),
    CDC_RUN_MIGRATIONS: env.bool({
      default: true,
      description: 'Apply the trading schema migrations at start-up, before capture starts',
    }),
    CDC_TABLES: env.list({
      default: TRADING_TABLES.join(','),
      minItems: 1,
      description:
        'Tables of CDC_SCHEMA whose changes are captured (the publication lists these and the signal table cdc_signals); audit_log is left out by default as the listener writes it',
    }),
    CDC_REPLICA_IDENTITY_FULL: env.list({
      default: TRADING_TABLES.join(','),
      description:
        'Captured tables set to REPLICA IDENTITY FULL, so updates and deletes carry the whole previous row (others: primary key only)',
    }),
    CDC_SLOT_NAME: env.string({
      default: 'tributary_cdc',
      description: 'Name of the permanent logical replication slot (pgoutput); created at start-up when missing',
    }),
    CDC_PUBLICATION: env.string({
      default: 'tributary_cdc',
      description: 'Name of the publication of the captured tables; created or updated at start-up',
    }),
    CDC_TOPIC_PREFIX: env.string({
      default: 'cdc',
      description: 'Topic prefix (Debezium topic.prefix): changes go to <prefix>.<schema>.<table>, also source.name',
    }),
    CDC_TRANSACTION_TOPIC: env.string({
      default: 'cdc.transactions',
      description: 'Topic of the BEGIN and END records of every captured transaction',
    }),
    CDC_TOMBSTONES_ON_DELETE: env.bool({
      default: true,
      description: 'Write a tombstone (null value, same key) after each delete, so compacted topics drop the row',
    }),
    CDC_SNAPSHOT_MODE: env.oneOf(['initial', 'never'] as const, {
      default: 'initial',
      description:
        'initial: when the slot is created, first read the tracked tables (op r) as of the slot\'s start, then stream; never: stream only',
    }),
    CDC_ON_CLUSTER_CHANGE: env.oneOf(['resnapshot', 'refuse'] as const, {
      default: 'resnapshot',
      description:
        'What a start does when the slot\'s positions were delivered to another Kafka cluster (its cluster ID differs from the recorded one): resnapshot drops the slot and takes the initial snapshot again into the connected cluster; refuse keeps capture stopped, readiness 503 naming both clusters',
    }),
    CDC_STATUS_INTERVAL_MS: env.durationMs({
      default: '10s',
      min: 100,
      description:
        'Interval of the standby status updates (heartbeats) sent to PostgreSQL; an idle slot advances at this pace',
    }),
    CDC_AUDIT_LOG: env.bool({
      default: true,
      description:
        'Write every captured change (but those of audit_log itself) to <schema>.audit_log while Kafka writes it; its position is confirmed only after both',
    }),
    CDC_MAX_TX_EVENTS_IN_MEMORY: env.int({
      default: 10_000,
      min: 1,
      description:
        'Changes of one transaction held in memory before the listener produces them to Kafka ahead of its commit (bounds memory for large transactions)',
    }),
    CDC_MAX_SLOT_LAG_BYTES: env.int({
      default: 1_073_741_824,
      min: 0,
      description: 'Readiness fails when the slot holds more WAL than this (bytes behind the current WAL position)',
    }),
    CDC_MAX_PENDING_SNAPSHOTS: env.int({
      default: 4,
      min: 1,
      max: 100,
      description:
        'Re-snapshot requests queued or running at once (each holds the slot\'s confirmed position back while it runs); POST /snapshots answers 429 beyond it. One table has at most one',
    }),
    CDC_AUDIT_MAX_RANGE_MS: env.durationMs({
      default: '744h',
      min: 60_000,
      description: 'Longest commit-time range (to - from, to defaulting to now) one GET /audit request may ask for; 400 beyond it',
    }),
  },
);

export type CdcListenerConfig = ConfigOf<typeof cdcListenerEnv>;
