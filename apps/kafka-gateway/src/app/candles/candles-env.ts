import { env } from '@tributary/config';

/** Environment variables of the event-time candles (see the README). */
export const candlesEnv = {
  GATEWAY_CANDLES_ENABLED: env.bool({
    default: true,
    description: 'Aggregate trades into event-time candles on candles.1s, candles.10s and candles.1m (consumer group <KAFKA_GROUP_ID>-candles)',
  }),
  GATEWAY_CANDLES_SOURCE_TOPIC: env.oneOf(['market.trades', 'market.trades.validated'] as const, {
    default: 'market.trades',
    description: 'Trades the candles are made of: market.trades (every trade, as the batch layer archives them) or market.trades.validated (after the quality checks)',
  }),
  GATEWAY_CANDLES_START: env.oneOf(['latest', 'earliest'] as const, {
    default: 'latest',
    description: 'Where a new candle consumer group starts: latest (trades from now on) or earliest (the retained hour too); afterwards it resumes from its commits',
  }),
  GATEWAY_CANDLES_OUT_OF_ORDERNESS: env.durationMs({
    default: '2s',
    description: 'Bounded out-of-orderness: how far behind the newest event time of its partition a trade may arrive and still make the first emission of its candle',
  }),
  GATEWAY_CANDLES_ALLOWED_LATENESS: env.durationMs({
    default: '10s',
    description: 'After a window was emitted, how long (event time past its end) a late trade still re-emits the corrected candle; later trades go to candles.late',
  }),
  GATEWAY_CANDLES_IDLE_PARTITION_TIMEOUT: env.durationMs({
    default: '10s',
    description: 'A trades partition without records for this long (wall clock) stops holding the candle watermark back until it delivers again; 0 never',
  }),
};
