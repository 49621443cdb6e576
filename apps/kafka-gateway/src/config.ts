import { type ConfigOf, env, mergeSpecs, serviceEnv } from '@tributary/config';
import { kafkaEnv } from '@tributary/kafka';
import { authEnv } from '@tributary/service';
import { candlesEnv } from './app/candles/candles-env';
import { qualityEnv } from './app/quality/quality-env';

/** Environment variables of kafka-gateway, validated at start-up (see README.md for each). */
export const kafkaGatewayEnv = mergeSpecs(
  serviceEnv(3102),
  kafkaEnv,
  authEnv,
  {
    KAFKA_GROUP_ID: env.string({
      default: 'tributary-kafka-gateway',
      description: 'Consumer group of this service; instances sharing it split the partitions',
    }),
    GATEWAY_MAX_BODY_BYTES: env.int({
      default: 1_048_576,
      min: 1024,
      max: 64 * 1_048_576,
      description: 'Largest body of POST /v1/streams/:stream/events, in bytes; a larger one answers 413',
    }),
    GATEWAY_MAX_IN_FLIGHT_EVENTS: env.int({
      default: 20_000,
      min: 1,
      description: 'Events waiting for Kafka acknowledgements across all requests; beyond it requests answer 429',
    }),
    GATEWAY_ACK_TIMEOUT_MS: env.durationMs({
      default: '10s',
      min: 100,
      description: 'How long an ingestion request waits for the Kafka acknowledgement before answering 503',
    }),
    GATEWAY_WS_MAX_FRAMES_IN_FLIGHT: env.int({
      default: 64,
      min: 1,
      max: 10_000,
      description: 'Frames one WebSocket producer may have waiting for Kafka acknowledgements; beyond it a frame is answered retry',
    }),
    GATEWAY_WS_MAX_CONNECTIONS_PER_CALLER: env.int({
      default: 16,
      min: 1,
      max: 10_000,
      description: 'WebSockets (producers and live subscribers) one caller may hold open at once; beyond it an upgrade answers 429',
    }),
    GATEWAY_LIVE_MAX_BUFFER_BYTES: env.int({
      default: 4 * 1_048_576,
      min: 65_536,
      description: 'Unsent bytes a live subscriber may have queued (beyond it records for it are dropped and counted), and a producer its unread acknowledgements (beyond it the socket is closed)',
    }),
    GATEWAY_ENRICHMENT_ENABLED: env.bool({
      default: true,
      description: 'Join options.quotes with the underlying price in event time onto options.quotes.enriched (consumer group <KAFKA_GROUP_ID>-enrichment)',
    }),
    GATEWAY_ENRICHMENT_START: env.oneOf(['latest', 'earliest'] as const, {
      default: 'latest',
      description: 'Where a new enrichment consumer group starts: latest (only new quotes) or earliest (the retained hour too)',
    }),
    GATEWAY_ENRICHMENT_OUT_OF_ORDERNESS_MS: env.durationMs({
      default: '200ms',
      min: 0,
      description: 'How late an underlying quote may arrive behind the newest one of its partition and still be joined',
    }),
    GATEWAY_ENRICHMENT_MAX_UNDERLYING_AGE_MS: env.durationMs({
      default: '1m',
      min: 1,
      description: 'An underlying price older than this at the option quote time is not used (the underlying fields are null)',
    }),
    GATEWAY_ENRICHMENT_MAX_WAIT_MS: env.durationMs({
      default: '2s',
      min: 1,
      description: 'Processing time an option quote waits for its underlying price to become final before it goes with what is known',
    }),
    GATEWAY_ENRICHMENT_MAX_WAITING: env.int({
      default: 100_000,
      min: 1,
      description: 'Option quotes held for the join across all partitions; beyond it the oldest are released at once',
    }),
    GATEWAY_APPLY_CATALOG_ON_START: env.bool({
      default: true,
      description: 'At start-up, also add missing partitions and align topic configs with the catalog (as POST /admin/topics/apply); false: only create missing topics',
    }),
  },
  candlesEnv,
  qualityEnv,
);

export type KafkaGatewayConfig = ConfigOf<typeof kafkaGatewayEnv>;
