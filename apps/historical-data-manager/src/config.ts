import { type ConfigOf, env, mergeSpecs, serviceEnv, postgresEnv, s3Env } from '@tributary/config';
import { kafkaEnv } from '@tributary/kafka';

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
);

export type HistoricalDataManagerConfig = ConfigOf<typeof historicalDataManagerEnv>;
