import { EventPattern } from '@nestjs/microservices';

/** Marks a handler that takes a whole batch of values; read by {@link KafkaBatchServer}. */
export const KAFKA_BATCH_HANDLER = 'tributaryKafkaBatch';

/**
 * `@EventPattern(topic)` for a handler that receives every value of a fetched batch at once,
 * for consumers that write in bulk (archivers, aggregators):
 *
 * ```ts
 * @BatchEventPattern('market.trades')
 * async archive(@Payload() trades: UnderlyingTrade.Value[], @Ctx() ctx: KafkaBatchContext) { ... }
 * ```
 *
 * The values are those of one partition, in offset order, already decoded and validated; records
 * that are not JSON or fail the schema went to the DLQ and are not among them.
 */
export function BatchEventPattern(topic: string): MethodDecorator {
  return EventPattern(topic, { [KAFKA_BATCH_HANDLER]: true });
}
