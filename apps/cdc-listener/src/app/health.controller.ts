import { Controller } from '@nestjs/common';
import { HealthCheckService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { KafkaHealthIndicator } from '@tributary/kafka';
import { PostgresHealthIndicator, ReadinessController } from '@tributary/observability';
import { ReplicationSlotHealthIndicator } from './capture/replication-slot.health';

/** `GET /health/live` and `GET /health/ready` (503 while a dependency below is down). */
@Controller('health')
export class HealthController extends ReadinessController {
  constructor(
    health: HealthCheckService,
    private readonly kafka: KafkaHealthIndicator,
    private readonly postgres: PostgresHealthIndicator,
    private readonly replication: ReplicationSlotHealthIndicator,
  ) {
    super(health);
  }

  protected readinessChecks(): HealthIndicatorFunction[] {
    return [
      () => this.kafka.isHealthy('kafka'),
      () => this.postgres.isHealthy('postgres', { requireLogicalWal: true }),
      () => this.replication.isHealthy('replication'),
    ];
  }
}
