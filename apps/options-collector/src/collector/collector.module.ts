import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { KAFKA_CONNECTION, KAFKA_LOGGER, type KafkaConnection, TypedProducer } from '@tributary/kafka';
import { METRICS_REGISTRY, TributaryMetrics } from '@tributary/observability';
import type { OptionsCollectorConfig } from '../config';
import { MarketSimulator } from '../simulator/market-simulator';
import { createAlpacaSource } from '../sources/alpaca/alpaca-config';
import type { MarketSource } from '../simulator/market-source';
import { CollectorController } from './collector.controller';
import { CollectorMetrics } from './collector-metrics';
import { lastEventTimeMs } from './last-event-time';
import { OptionsCollector } from './options-collector';

export const MARKET_SOURCE = Symbol('tributary.marketSource');
/** The collector's own producer (see {@link createCollectorProducer}). */
export const COLLECTOR_PRODUCER = Symbol('tributary.collectorProducer');

/**
 * The producer the collector publishes with: the shared TypedProducer with the service's Kafka settings,
 * but without a validation of its own. The collector checks every record against the same catalog
 * contract (schema and invariants) before it produces it and sends the refused ones to the DLQ, so a
 * second check of each record in the producer would only double the cost.
 */
export function createCollectorProducer(
  connection: KafkaConnection,
  config: OptionsCollectorConfig,
  logger?: Logger,
  metrics?: TributaryMetrics,
): TypedProducer {
  return new TypedProducer(connection, {
    service: 'options-collector',
    instanceId: config.INSTANCE_ID,
    lingerMs: config.KAFKA_PRODUCER_LINGER_MS,
    maxBatchBytes: config.KAFKA_PRODUCER_MAX_BATCH_BYTES,
    deliveryTimeoutMs: config.KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS,
    validate: false,
    metrics,
    logger,
  });
}

/** The market source the configuration names. */
export function createMarketSource(config: OptionsCollectorConfig, logger?: Logger, metrics?: CollectorMetrics): MarketSource {
  if (config.MARKET_SOURCE === 'alpaca') {
    return createAlpacaSource(config, {
      logger: logger?.child({ component: 'alpaca' }),
      onReconnect: (connection) => metrics?.reconnects.inc({ connection: `alpaca-${connection}` }),
      onListenerError: (error) => logger?.error({ err: error }, 'processing a batch of market events failed'),
    });
  }
  return new MarketSimulator({
    seed: config.SIMULATOR_SEED,
    startMs: config.SIMULATOR_START,
    eventsPerSecond: config.SIMULATOR_EVENTS_PER_SECOND,
    pace: 'wall-clock',
    riskFreeRate: config.RISK_FREE_RATE,
    faults: { fraction: config.SIMULATOR_FAULT_FRACTION },
    sweepProbability: config.SIMULATOR_SWEEP_PROBABILITY,
    blockProbability: config.SIMULATOR_BLOCK_PROBABILITY,
    scenarios: config.SIMULATOR_SCENARIOS ? { intervalMs: config.SIMULATOR_SCENARIO_INTERVAL_MS } : undefined,
    onListenerError: (error) => logger?.error({ err: error }, 'processing a batch of market events failed'),
  });
}

/** Starts the collector after the app is up (it waits for the broker by itself) and stops it first on shutdown. */
@Injectable()
class CollectorLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    @Inject(OptionsCollector) private readonly collector: OptionsCollector,
    @Inject(COLLECTOR_PRODUCER) private readonly producer: TypedProducer,
  ) {}

  onApplicationBootstrap(): void {
    this.collector.start();
  }

  /** Stops the source, finishes the batches in flight, then flushes and disconnects the collector's producer. */
  async onModuleDestroy(): Promise<void> {
    await this.collector.stop();
    await this.producer.disconnect();
  }
}

/**
 * The options collector: the market source, chain selection, chain snapshots with IV and Greeks,
 * unusual-flow detection, publishing to the six topics, and `GET /chains/:underlying`, `GET /status`.
 */
@Module({})
export class CollectorModule {
  static forRoot(config: OptionsCollectorConfig): DynamicModule {
    return {
      module: CollectorModule,
      controllers: [CollectorController],
      providers: [
        {
          provide: MARKET_SOURCE,
          useFactory: (logger: Logger, metrics: CollectorMetrics) => createMarketSource(config, logger, metrics),
          inject: [KAFKA_LOGGER, CollectorMetrics],
        },
        {
          provide: CollectorMetrics,
          useFactory: (registry: Registry) => new CollectorMetrics(registry),
          inject: [METRICS_REGISTRY],
        },
        {
          provide: COLLECTOR_PRODUCER,
          useFactory: (connection: KafkaConnection, logger: Logger, metrics?: TributaryMetrics) =>
            createCollectorProducer(connection, config, logger, metrics),
          inject: [KAFKA_CONNECTION, KAFKA_LOGGER, { token: TributaryMetrics, optional: true }],
        },
        {
          provide: OptionsCollector,
          useFactory: (source: MarketSource, producer: TypedProducer, metrics: CollectorMetrics, logger: Logger, connection: KafkaConnection) =>
            new OptionsCollector(source, producer, {
              underlyings: config.UNDERLYINGS,
              selection: {
                strikesPerExpiration: config.CHAIN_STRIKES_PER_EXPIRY,
                maxDaysToExpiry: config.CHAIN_MAX_DAYS_TO_EXPIRY,
                maxContracts: config.CHAIN_MAX_CONTRACTS,
              },
              snapshotIntervalMs: config.CHAIN_SNAPSHOT_INTERVAL_MS,
              riskFreeRate: config.RISK_FREE_RATE,
              flow: {
                blockPremium: config.FLOW_BLOCK_PREMIUM,
                blockSize: config.FLOW_BLOCK_SIZE,
                volumeToOpenInterest: config.FLOW_VOLUME_TO_OPEN_INTEREST,
                minUnusualVolume: config.FLOW_MIN_UNUSUAL_VOLUME,
                sweepWindowMs: config.FLOW_SWEEP_WINDOW_MS,
                minSweepExchanges: config.FLOW_MIN_SWEEP_EXCHANGES,
                minSweepPremium: config.FLOW_MIN_SWEEP_PREMIUM,
              },
              metrics,
              logger: logger.child({ component: 'collector' }),
              // A restarted simulator continues after what the collector published (market.quotes carries every underlying).
              lastPublishedEventTimeMs: config.SIMULATOR_RESUME ? () => lastEventTimeMs(connection, 'market.quotes', 'options-collector/') : undefined,
            }),
          inject: [MARKET_SOURCE, COLLECTOR_PRODUCER, CollectorMetrics, KAFKA_LOGGER, KAFKA_CONNECTION],
        },
        CollectorLifecycle,
      ],
      exports: [OptionsCollector],
    };
  }
}
