import { type DynamicModule, Module } from '@nestjs/common';
import type { KafkaGatewayConfig } from '../../config';
import { CANDLE_STREAM_OPTIONS, CandleStream, type CandleStreamOptions } from './candle-stream';

/** Event-time candles of trades (the speed layer), with a consumer group of their own. */
@Module({})
export class CandlesModule {
  static forRoot(config: KafkaGatewayConfig): DynamicModule {
    const options: CandleStreamOptions = {
      enabled: config.GATEWAY_CANDLES_ENABLED,
      groupId: `${config.KAFKA_GROUP_ID}-candles`,
      sourceTopic: config.GATEWAY_CANDLES_SOURCE_TOPIC,
      fromBeginning: config.GATEWAY_CANDLES_START === 'earliest',
      outOfOrdernessMs: config.GATEWAY_CANDLES_OUT_OF_ORDERNESS,
      allowedLatenessMs: config.GATEWAY_CANDLES_ALLOWED_LATENESS,
      idlePartitionMs: config.GATEWAY_CANDLES_IDLE_PARTITION_TIMEOUT,
    };
    return {
      module: CandlesModule,
      providers: [{ provide: CANDLE_STREAM_OPTIONS, useValue: options }, CandleStream],
      exports: [CandleStream],
    };
  }
}
