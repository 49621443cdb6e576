import { Controller } from '@nestjs/common';
import { HealthCheckService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { KafkaHealthIndicator } from '@tributary/kafka';
import { PostgresHealthIndicator, ReadinessController, S3HealthIndicator } from '@tributary/observability';

/** `GET /health/live` and `GET /health/ready` (503 while a dependency below is down). */
@Controller('health')
export class HealthController extends ReadinessController {
  constructor(
    health: HealthCheckService,
    private readonly kafka: KafkaHealthIndicator,
    private readonly postgres: PostgresHealthIndicator,
    private readonly s3: S3HealthIndicator,
  ) {
    super(health);
  }

  protected readinessChecks(): HealthIndicatorFunction[] {
    return [
      () => this.kafka.isHealthy('kafka'),
      () => this.postgres.isHealthy('postgres'),
      () => this.s3.isHealthy('s3'),
    ];
  }
}
