import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceCoreModule } from '@tributary/service';
import type { KafkaGatewayConfig } from '../config';
import { CandlesModule } from './candles/candles.module';
import { DeadLetters } from './dlq/dead-letters';
import { DlqController } from './dlq/dlq.controller';
import { ENRICHMENT_OPTIONS, QuoteEnrichment } from './enrichment/quote-enrichment.service';
import { HealthController } from './health.controller';
import { EventLanding } from './ingestion/event-landing';
import { InFlightLimiter } from './ingestion/in-flight-limiter';
import { IngestionController } from './ingestion/ingestion.controller';
import { IngestionMetrics } from './ingestion/ingestion-metrics';
import { INGESTION_OPTIONS, RequestBodyReader } from './ingestion/request-body-reader';
import { QualityModule } from './quality/quality.module';
import { STREAM_SOCKET_OPTIONS, StreamSockets } from './streaming/stream-sockets';
import { CATALOG_TOPICS_OPTIONS, CatalogTopics } from './topics/catalog-topics';
import { TopicsController } from './topics/topics.controller';

@Module({})
export class AppModule {
  static forRoot(config: KafkaGatewayConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ServiceCoreModule.forRoot({ service: 'kafka-gateway', config, ensureTopics: true, rawBodyPaths: ['/v1/streams'] }),
        QualityModule.forRoot(config),
        CandlesModule.forRoot(config),
      ],
      controllers: [HealthController, TopicsController, IngestionController, DlqController],
      providers: [
        {
          provide: CATALOG_TOPICS_OPTIONS,
          useValue: { replicationFactor: config.KAFKA_REPLICATION_FACTOR, applyOnStart: config.GATEWAY_APPLY_CATALOG_ON_START },
        },
        {
          provide: INGESTION_OPTIONS,
          useValue: {
            maxBodyBytes: config.GATEWAY_MAX_BODY_BYTES,
            maxInFlightEvents: config.GATEWAY_MAX_IN_FLIGHT_EVENTS,
            ackTimeoutMs: config.GATEWAY_ACK_TIMEOUT_MS,
          },
        },
        { provide: InFlightLimiter, useFactory: () => new InFlightLimiter(config.GATEWAY_MAX_IN_FLIGHT_EVENTS) },
        {
          provide: STREAM_SOCKET_OPTIONS,
          useValue: {
            maxSubscriberBufferBytes: config.GATEWAY_LIVE_MAX_BUFFER_BYTES,
            maxFramesInFlight: config.GATEWAY_WS_MAX_FRAMES_IN_FLIGHT,
            maxConnectionsPerCaller: config.GATEWAY_WS_MAX_CONNECTIONS_PER_CALLER,
          },
        },
        StreamSockets,
        IngestionMetrics,
        EventLanding,
        {
          provide: ENRICHMENT_OPTIONS,
          useValue: {
            enabled: config.GATEWAY_ENRICHMENT_ENABLED,
            groupId: `${config.KAFKA_GROUP_ID}-enrichment`,
            fromBeginning: config.GATEWAY_ENRICHMENT_START === 'earliest',
            outOfOrdernessMs: config.GATEWAY_ENRICHMENT_OUT_OF_ORDERNESS_MS,
            maxUnderlyingAgeMs: config.GATEWAY_ENRICHMENT_MAX_UNDERLYING_AGE_MS,
            maxWaitMs: config.GATEWAY_ENRICHMENT_MAX_WAIT_MS,
            maxWaiting: config.GATEWAY_ENRICHMENT_MAX_WAITING,
          },
        },
        QuoteEnrichment,
        RequestBodyReader,
        CatalogTopics,
        DeadLetters,
      ],
    };
  }
}
