import { Controller } from '@nestjs/common';
import { HealthCheckService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { KafkaHealthIndicator } from '@tributary/kafka';
import { ReadinessController } from '@tributary/observability';

/** `GET /health/live` and `GET /health/ready` (503 while a dependency below is down). */
@Controller('health')
export class HealthController extends ReadinessController {
  constructor(
    health: HealthCheckService,
    private readonly kafka: KafkaHealthIndicator,
  ) {
    super(health);
  }

  protected readinessChecks(): HealthIndicatorFunction[] {
    return [
      () => this.kafka.isHealthy('kafka'),
    ];
  }
}
