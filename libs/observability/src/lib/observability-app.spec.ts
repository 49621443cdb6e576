import 'reflect-metadata';
import { Controller, Get, type INestApplication, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Logger, PinoLogger } from 'nestjs-pino';
import { LogCapture } from '../testing/log-capture';
import { currentCorrelationId } from './correlation/correlation-id';
import { HealthModule } from './health/health.module';
import { ReadinessController } from './health/readiness.controller';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { TributaryMetrics } from './metrics/tributary-metrics';

/** A dependency the test can take down and bring back. */
@Injectable()
class BrokerHealth {
  up = true;
  constructor(private readonly indicators: HealthIndicatorService) {}
  isHealthy(key: string) {
    const session = this.indicators.check(key);
    return this.up ? session.up() : session.down({ message: 'broker 127.0.0.1:1 refused the connection' });
  }
}

@Controller('health')
class HealthController extends ReadinessController {
  constructor(
    health: HealthCheckService,
    private readonly broker: BrokerHealth,
  ) {
    super(health);
  }

  protected readinessChecks() {
    return [() => this.broker.isHealthy('kafka')];
  }
}

@Controller('quotes')
class QuotesController {
  constructor(
    private readonly log: PinoLogger,
    private readonly metrics: TributaryMetrics,
  ) {}

  @Get()
  async latest() {
    await new Promise((resolve) => setTimeout(resolve, 1));
    this.log.info('quote served');
    this.metrics.kafkaConsumed('market.quotes.v1');
    return { correlationId: currentCorrelationId() };
  }
}

const capture = new LogCapture();

@Module({
  imports: [
    LoggingModule.forRoot({
      service: 'kafka-gateway',
      level: 'info',
      instance: 'gw-0',
      destination: capture,
    }),
    MetricsModule.forRoot({ service: 'kafka-gateway' }),
    HealthModule.forRoot(),
  ],
  controllers: [HealthController, QuotesController],
  providers: [BrokerHealth],
})
class GatewayModule {}

describe('a Nest app composed with the observability modules', () => {
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    app = await NestFactory.create(GatewayModule, { bufferLogs: true });
    app.useLogger(app.get(Logger));
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    capture.lines.length = 0;
  });

  it('a request reuses the caller x-correlation-id, echoes it and logs with it', async () => {
    const response = await fetch(`${base}/quotes`, { headers: { 'x-correlation-id': 'client-abc-123' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-correlation-id')).toBe('client-abc-123');
    expect(await response.json()).toEqual({ correlationId: 'client-abc-123' });
    const served = capture.withMessage('quote served');
    expect(served).toHaveLength(1);
    expect(served[0]).toMatchObject({
      service: 'kafka-gateway',
      instance: 'gw-0',
      correlationId: 'client-abc-123',
    });
    const completed = capture.withMessage('request completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]).toMatchObject({
      level: 'info',
      correlationId: 'client-abc-123',
      req: { method: 'GET', url: '/quotes' },
      res: { statusCode: 200 },
    });
  });

  it('x-request-id is taken when x-correlation-id is absent', async () => {
    const response = await fetch(`${base}/quotes`, { headers: { 'x-request-id': 'ingress-77' } });
    expect(response.headers.get('x-correlation-id')).toBe('ingress-77');
    expect(await response.json()).toEqual({ correlationId: 'ingress-77' });
  });

  it('a request without an id, or with an unsafe one, gets a new UUID', async () => {
    for (const headers of [{}, { 'x-correlation-id': 'evil"\\id with spaces' }] as Array<
      Record<string, string>
    >) {
      const response = await fetch(`${base}/quotes`, { headers });
      const id = response.headers.get('x-correlation-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await response.json()).toEqual({ correlationId: id });
    }
  });

  it('a request to an unknown route still gets a correlation id and is logged as a warning', async () => {
    const response = await fetch(`${base}/`, { headers: { 'x-correlation-id': 'lost-1' } });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-correlation-id')).toBe('lost-1');
    expect(capture.withMessage('request completed')[0]).toMatchObject({
      level: 'warn',
      correlationId: 'lost-1',
      res: { statusCode: 404 },
    });
  });

  it('GET /metrics answers Prometheus text with the per-topic counters and the service label', async () => {
    await fetch(`${base}/quotes`);
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8$/);
    const text = await response.text();
    expect(text).toMatch(
      /^tributary_kafka_messages_consumed_total\{topic="market\.quotes\.v1",service="kafka-gateway"\} \d+$/m,
    );
    expect(text).toMatch(/^process_resident_memory_bytes\{service="kafka-gateway"\}/m);
  });

  it('health and metrics requests are not logged at info, other requests are', async () => {
    await fetch(`${base}/health/live`);
    await fetch(`${base}/health/ready`);
    await fetch(`${base}/metrics`);
    await fetch(`${base}/quotes`);
    const urls = capture.withMessage('request completed').map((line) => (line['req'] as { url: string }).url);
    expect(urls).toEqual(['/quotes']);
  });

  it('/health/live answers 200 whatever the dependencies do', async () => {
    app.get(BrokerHealth).up = false;
    try {
      const response = await fetch(`${base}/health/live`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ status: 'ok', details: { process: { status: 'up' } } });
    } finally {
      app.get(BrokerHealth).up = true;
    }
  });

  it('/health/ready is 503 naming the dependency (its driver message only in the log) while it is down and 200 once it is back, without restart', async () => {
    const broker = app.get(BrokerHealth);
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);

    broker.up = false;
    const down = await fetch(`${base}/health/ready`);
    expect(down.status).toBe(503);
    expect(down.headers.get('cache-control')).toContain('no-cache');
    // The probe is open to anyone who can reach the port: hosts and driver messages stay in the log.
    expect(await down.json()).toEqual({ status: 'error', info: {}, error: { kafka: { status: 'down' } }, details: { kafka: { status: 'down' } } });
    expect((await fetch(`${base}/health/ready`)).status).toBe(503);

    broker.up = true;
    const up = await fetch(`${base}/health/ready`);
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ status: 'ok', info: { kafka: { status: 'up' } } });

    // One line per change of readiness, not one per probe.
    expect(capture.withMessage('not ready')).toHaveLength(1);
    expect(capture.withMessage('not ready')[0]).toMatchObject({
      level: 'warn',
      context: 'Readiness',
      details: { kafka: { status: 'down', message: 'broker 127.0.0.1:1 refused the connection' } },
    });
    expect(capture.withMessage('ready again')).toHaveLength(1);
  });

  it("Nest's own log lines are JSON with the service name", async () => {
    app.get(Logger).log('routes mapped', 'RoutesResolver');
    expect(capture.withMessage('routes mapped')[0]).toMatchObject({
      level: 'info',
      service: 'kafka-gateway',
      context: 'RoutesResolver',
    });
  });
});
