import { Controller, Inject, Optional } from '@nestjs/common';
import { HealthCheckService, type HealthIndicatorFunction, type HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { KafkaHealthIndicator } from '@tributary/kafka';
import { ReadinessController } from '@tributary/observability';
import { CepRunner } from './kafka/cep-runner';

/** `GET /health/live` and `GET /health/ready` (503 while Kafka is down or the engine is not consuming yet). */
@Controller('health')
export class HealthController extends ReadinessController {
  constructor(
    health: HealthCheckService,
    private readonly kafka: KafkaHealthIndicator,
    @Inject(CepRunner) private readonly runner: CepRunner,
    @Optional() private readonly indicators: HealthIndicatorService = new HealthIndicatorService(),
  ) {
    super(health);
  }

  protected readinessChecks(): HealthIndicatorFunction[] {
    return [() => this.kafka.isHealthy('kafka'), () => this.engine()];
  }

  private async engine(): Promise<HealthIndicatorResult> {
    const { state, lastError } = this.runner;
    const session = this.indicators.check('cep');
    const data = { state, partitions: this.runner.ownedPartitions(), global: this.runner.ownsGlobal() };
    if (state === 'running' || state === 'idle') return session.up(data);
    // The error itself (a Kafka client's message, naming brokers) is in the service log, not in a probe's answer.
    return session.down({ ...data, message: lastError === undefined ? `engine is ${state}` : `engine is ${state} after an error; the reason is in the service log` });
  }
}
