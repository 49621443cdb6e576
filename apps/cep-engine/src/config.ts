import { type ConfigOf, env, mergeSpecs, serviceEnv } from '@tributary/config';
import { kafkaEnv } from '@tributary/kafka';

/** Environment variables of cep-engine, validated at start-up (see README.md for each). */
export const cepEngineEnv = mergeSpecs(
  serviceEnv(3104),
  kafkaEnv,
  {
    KAFKA_GROUP_ID: env.string({
      default: 'tributary-cep-engine',
      description: 'Consumer group of this service; instances sharing it split the partitions',
    }),
  },
);

export type CepEngineConfig = ConfigOf<typeof cepEngineEnv>;
