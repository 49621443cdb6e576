import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { TopicArchiveService } from './topic-archive.service';

/**
 * Readiness of the archive: down while a flush waits for S3, PostgreSQL or Kafka, naming the store,
 * since when, why, and whether consumption is paused; up (with the rows not yet committed)
 * otherwise. Topics stopped until an operator decides (their archived offsets belong to another
 * cluster or topic ID) are listed in `awaitingDecision` with the dataset, both identities and why,
 * without taking the instance out of service: its query API and the decision endpoint must stay
 * reachable, and the other topics keep archiving. The metric
 * `tributary_archive_identity_mismatch` is what alerts.
 */
@Injectable()
export class ArchiveHealthIndicator {
  constructor(
    private readonly archive: TopicArchiveService,
    private readonly indicators: HealthIndicatorService,
  ) {}

  isHealthy<const Key extends string = 'archive'>(key: Key = 'archive' as Key): HealthIndicatorResult<Key> {
    const session = this.indicators.check(key);
    const outage = this.archive.currentOutage();
    const bufferedRows = this.archive.bufferedRowCount();
    const awaitingDecision = this.archive
      .topicStates()
      .filter((s) => s.state === 'awaiting-decision')
      .map((s) => ({
        dataset: s.dataset,
        topic: s.topic,
        epoch: s.epoch,
        reason: s.mismatch?.kind,
        message: s.mismatch?.reason,
        since: s.mismatch?.since,
        stored: { kafkaClusterId: s.stored?.clusterId ?? null, kafkaTopicId: s.stored?.topicId ?? null },
        current: { kafkaClusterId: s.current?.clusterId ?? null, kafkaTopicId: s.current?.topicId ?? null },
        partitions: s.mismatch?.partitions ?? [],
        decide: `POST /v1/datasets/${s.dataset}/epochs`,
      }));
    const decisions = awaitingDecision.length > 0 ? { awaitingDecision } : {};
    if (outage === null) return session.up({ bufferedRows, ...decisions });
    return session.down({
      ...decisions,
      waitingFor: outage.dependency,
      since: outage.since,
      failedAttempts: outage.attempts,
      message: outage.reason,
      consumptionPaused: this.archive.consumptionPaused,
      bufferedRows,
    });
  }
}
