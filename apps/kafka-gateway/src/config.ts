import { type ConfigOf, env, mergeSpecs, serviceEnv } from '@tributary/config';
import { kafkaEnv } from '@tributary/kafka';

/** Environment variables of kafka-gateway, validated at start-up (see README.md for each). */
export const kafkaGatewayEnv = mergeSpecs(
  serviceEnv(3102),
  kafkaEnv,
  {
    KAFKA_GROUP_ID: env.string({
      default: 'tributary-kafka-gateway',
      description: 'Consumer group of this service; instances sharing it split the partitions',
    }),
  },
);

export type KafkaGatewayConfig = ConfigOf<typeof kafkaGatewayEnv>;
