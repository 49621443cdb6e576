import { type DynamicModule, Module } from '@nestjs/common';
import type { KafkaGatewayConfig } from '../../config';
import { TRADE_QUALITY_OPTIONS, TradeQualityProcessor, type TradeQualityOptions } from './trade-quality-processor';

/** The data quality processor of trades, with a consumer group of its own. */
@Module({})
export class QualityModule {
  static forRoot(config: KafkaGatewayConfig): DynamicModule {
    if (config.GATEWAY_QUALITY_OUTLIER_WINDOW < config.GATEWAY_QUALITY_OUTLIER_MIN_HISTORY) {
      throw new Error(
        `GATEWAY_QUALITY_OUTLIER_WINDOW (${config.GATEWAY_QUALITY_OUTLIER_WINDOW}) must be at least GATEWAY_QUALITY_OUTLIER_MIN_HISTORY (${config.GATEWAY_QUALITY_OUTLIER_MIN_HISTORY})`,
      );
    }
    const options: TradeQualityOptions = {
      enabled: config.GATEWAY_QUALITY_ENABLED,
      groupId: `${config.KAFKA_GROUP_ID}-quality`,
      sourceTopic: 'market.trades',
      validatedTopic: 'market.trades.validated',
      findingsTopic: 'quality.events',
      fromBeginning: config.GATEWAY_QUALITY_START === 'earliest',
      dedupWindowMs: config.GATEWAY_QUALITY_DEDUP_WINDOW,
      dedupMaxEntries: config.GATEWAY_QUALITY_DEDUP_MAX_ENTRIES,
      outlier: {
        zThreshold: config.GATEWAY_QUALITY_OUTLIER_Z,
        minHistory: config.GATEWAY_QUALITY_OUTLIER_MIN_HISTORY,
        window: config.GATEWAY_QUALITY_OUTLIER_WINDOW,
        minMoveBps: config.GATEWAY_QUALITY_OUTLIER_MIN_MOVE_BPS,
        levelShiftAfter: config.GATEWAY_QUALITY_OUTLIER_LEVEL_SHIFT_AFTER,
        maxSymbols: config.GATEWAY_QUALITY_MAX_SYMBOLS,
      },
      gapGranularitiesMs: config.GATEWAY_QUALITY_GAP_GRANULARITIES,
      kafkaConfig: config,
    };
    return {
      module: QualityModule,
      providers: [{ provide: TRADE_QUALITY_OPTIONS, useValue: options }, TradeQualityProcessor],
      exports: [TradeQualityProcessor],
    };
  }
}
