import { type ConfigOf, env, mergeSpecs, serviceEnv, postgresEnv } from '@tributary/config';
import { kafkaEnv } from '@tributary/kafka';

/** Environment variables of cdc-listener, validated at start-up (see README.md for each). */
export const cdcListenerEnv = mergeSpecs(
  serviceEnv(3103),
  kafkaEnv,
  {
    KAFKA_GROUP_ID: env.string({
      default: 'tributary-cdc-listener',
      description: 'Consumer group of this service; instances sharing it split the partitions',
    }),
  },
  postgresEnv,
);

export type CdcListenerConfig = ConfigOf<typeof cdcListenerEnv>;
