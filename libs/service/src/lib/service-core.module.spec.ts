import { Controller, type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheckService, type HealthIndicatorFunction } from '@nestjs/terminus';
import { mergeSpecs, parseEnv, serviceEnv } from '@tributary/config';
import { KafkaHealthIndicator, kafkaEnv } from '@tributary/kafka';
import { DEFAULT_PROBE_TIMEOUT_MS, ReadinessController } from '@tributary/observability';
import { authEnv } from './auth/auth-env';
import { ServiceCoreModule } from './service-core.module';

@Controller('health')
class HealthController extends ReadinessController {
  constructor(
    health: HealthCheckService,
    private readonly kafka: KafkaHealthIndicator,
  ) {
    super(health);
  }

  protected readinessChecks(): HealthIndicatorFunction[] {
    return [() => this.kafka.isHealthy('kafka')];
  }
}

/** With the broker unreachable, readiness answers once the Kafka probe gave up; room for a busy machine on top. */
const READINESS_TIMEOUT_MS = DEFAULT_PROBE_TIMEOUT_MS + 30_000;

describe('a service built on the shared core', () => {
  let app: INestApplication;
  let baseUrl: string;

  beforeAll(async () => {
    // Port 1 on loopback: nothing listens there, so the broker is "down" from the start.
    const config = parseEnv(mergeSpecs(serviceEnv(3999), kafkaEnv, authEnv), {
      KAFKA_BROKERS: '127.0.0.1:1',
      KAFKA_CONNECTION_TIMEOUT_MS: '200ms',
      LOG_LEVEL: 'silent',
    });
    @Module({
      imports: [ServiceCoreModule.forRoot({ service: 'test-service', config })],
      controllers: [HealthController],
    })
    class TestServiceModule {}
    app = await NestFactory.create(TestServiceModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    baseUrl = await app.getUrl();
  });

  afterAll(async () => {
    await app.close();
  });

  it('starts and stays live while Kafka is unreachable', async () => {
    const live = await fetch(`${baseUrl}/health/live`);
    expect(live.status).toBe(200);
  });

  it('reports not ready, naming Kafka, while the broker is unreachable', async () => {
    const ready = await fetch(`${baseUrl}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'error', error: { kafka: { status: 'down' } } });
  }, READINESS_TIMEOUT_MS);

  it('serves Prometheus metrics labelled with the service name', async () => {
    const metrics = await fetch(`${baseUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/process_cpu_user_seconds_total\{service="test-service"\}/);
  });
});
