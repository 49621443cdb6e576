import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { TopicArchiveService } from './topic-archive.service';

/**
 * Readiness of the archive: down while a flush waits for S3 or PostgreSQL, naming the store, since
 * when, why, and whether consumption is paused; up (with the rows not yet committed) otherwise.
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
    if (outage === null) return session.up({ bufferedRows });
    return session.down({
      waitingFor: outage.dependency,
      since: outage.since,
      failedAttempts: outage.attempts,
      message: outage.reason,
      consumptionPaused: this.archive.consumptionPaused,
      bufferedRows,
    });
  }
}
