import { Controller, type Type } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { BatchEventPattern, type KafkaBatchContext } from '@tributary/kafka';
import { TopicArchiveService } from './topic-archive.service';

/**
 * The Kafka handlers of the archive: one `@BatchEventPattern(topic)` method per configured topic.
 * Topics come from configuration, so the class is built at start-up with the decorators applied
 * to its methods, exactly as if they had been written in the source.
 */
export function topicArchiveListener(topics: readonly string[]): Type<unknown> {
  @Controller()
  class TopicArchiveListener {
    constructor(readonly archive: TopicArchiveService) {}
  }
  const prototype = TopicArchiveListener.prototype as unknown as Record<string, unknown>;
  for (const topic of topics) {
    const method = `archive:${topic}`;
    prototype[method] = function (
      this: TopicArchiveListener,
      values: unknown[],
      batch: KafkaBatchContext,
    ): Promise<void> {
      return this.archive.archiveBatch(topic, values, batch);
    };
    const descriptor = Object.getOwnPropertyDescriptor(prototype, method) as PropertyDescriptor;
    Payload()(prototype, method, 0);
    Ctx()(prototype, method, 1);
    // the handler returns once the batch is buffered; its offsets are committed when the flush is durable
    BatchEventPattern(topic, { deferCommit: true })(prototype, method, descriptor);
  }
  return TopicArchiveListener;
}
