import { Controller } from '@nestjs/common';
import { HealthCheckService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { KafkaHealthIndicator } from '@tributary/kafka';
import { PostgresHealthIndicator, ReadinessController, S3HealthIndicator } from '@tributary/observability';
import { ArchiveHealthIndicator } from './archive/archive.health';

/**
 * `GET /health/live` and `GET /health/ready` (503 while a dependency below is down; `archive` is
 * down, naming the store, while the archive waits for S3 or PostgreSQL with consumption paused).
 */
@Controller('health')
export class HealthController extends ReadinessController {
  constructor(
    health: HealthCheckService,
    private readonly kafka: KafkaHealthIndicator,
    private readonly postgres: PostgresHealthIndicator,
    private readonly s3: S3HealthIndicator,
    private readonly archive: ArchiveHealthIndicator,
  ) {
    super(health);
  }

  protected readinessChecks(): HealthIndicatorFunction[] {
    return [
      () => this.kafka.isHealthy('kafka'),
      () => this.postgres.isHealthy('postgres'),
      () => this.s3.isHealthy('s3'),
      () => this.archive.isHealthy('archive'),
    ];
  }
}
