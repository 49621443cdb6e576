import { EventPattern } from '@nestjs/microservices';

/** Marks a handler that takes a whole batch of values; read by {@link KafkaBatchServer}. */
export const KAFKA_BATCH_HANDLER = 'tributaryKafkaBatch';

/** Marks a batch handler whose records are committed when it says they are durable, not when it returns. */
export const KAFKA_DEFERRED_COMMIT = 'tributaryKafkaDeferredCommit';

export interface BatchEventPatternOptions {
  /**
   * Commit the batch's offsets only once the promise the handler passes to
   * `KafkaBatchContext.commitWhenDurable` resolved, not when the handler returns. The handler
   * returns as soon as it has buffered the records, so its partitions keep fetching meanwhile.
   * The app must bound its buffers (pause the topic while they are full) and drop the buffered
   * records of partitions listed by the server's `partitions-revoked` event: those are delivered
   * again, to this instance or to the partition's new owner.
   */
  readonly deferCommit?: boolean;
}

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
export function BatchEventPattern(topic: string, options: BatchEventPatternOptions = {}): MethodDecorator {
  return EventPattern(topic, {
    [KAFKA_BATCH_HANDLER]: true,
    ...(options.deferCommit === true && { [KAFKA_DEFERRED_COMMIT]: true }),
  });
}
