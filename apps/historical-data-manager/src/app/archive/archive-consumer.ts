import type { INestApplication } from '@nestjs/common';
import { connectKafkaConsumer, type KafkaBatchServer, type KafkaBatchServerOptions, type ManagedConsumer } from '@tributary/kafka';
import type { HistoricalDataManagerConfig } from '../../config';
import { TopicArchiveService } from './topic-archive.service';

/**
 * Connects the Kafka consumer that feeds the archive (as `connectKafkaConsumer` does) and hands it
 * to the archive, which pauses its fetches while S3 or PostgreSQL is away or its buffers are full,
 * and drops the buffered records of partitions the consumer reports revoked. Each time the consumer
 * joins its group, the archive checks its topics' identities (see `TopicIdentityGuard`). Fetch sizes and partitions consumed at once come from the
 * `ARCHIVE_*` configuration. Start it with
 * `app.startAllMicroservices()`.
 */
export function connectArchiveConsumer(
  app: INestApplication,
  options: Omit<KafkaBatchServerOptions, 'config'> & { config: HistoricalDataManagerConfig },
): KafkaBatchServer {
  const { config } = options;
  const { server } = connectKafkaConsumer(app, {
    partitionsConsumedConcurrently: config.ARCHIVE_PARTITIONS_CONCURRENTLY,
    ...options,
    fetch: {
      partitionMaxBytes: config.ARCHIVE_FETCH_MAX_BYTES_PER_PARTITION,
      maxBytes: Math.max(10 * 1024 * 1024, config.ARCHIVE_FETCH_MAX_BYTES_PER_PARTITION * 4),
      ...options.fetch,
    },
  });
  const archive = app.get(TopicArchiveService);
  archive.useConsumer({
    pause: (topic, partitions) => server.pause(topic, partitions),
    resume: (topic, partitions) => server.resume(topic, partitions),
    health: () => server.health(),
    // a new epoch reads its topic again from the start of the log
    rewind: (topic, partition, offset) => server.unwrap<{ consumer?: ManagedConsumer }>().consumer?.rewind(topic, partition, offset),
  });
  // an assignment: the archived offsets are checked against the identity of the cluster's topics
  server.on('status', (status) => {
    if (status === 'group-joined') void archive.checkIdentities().catch(() => undefined);
  });
  // the archive's handlers commit when durable: records of revoked partitions come again
  server.on('partitions-revoked', (revoked) => archive.dropRevoked(revoked));
  return server;
}
