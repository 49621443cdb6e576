import { type ConfigOf, env, mergeSpecs, serviceEnv } from '@tributary/config';
import { kafkaEnv } from '@tributary/kafka';

/** Environment variables of options-collector, validated at start-up (see README.md for each). */
export const optionsCollectorEnv = mergeSpecs(
  serviceEnv(3101),
  kafkaEnv,
  {
    KAFKA_GROUP_ID: env.string({
      default: 'tributary-options-collector',
      description: 'Consumer group of this service; instances sharing it split the partitions',
    }),
  },
);

export type OptionsCollectorConfig = ConfigOf<typeof optionsCollectorEnv>;
