import { Controller, Get, Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CATALOG, type TopicSpec } from '@tributary/contracts';
import { quietLogger, testConnection, testKafkaConfig, uniqueName } from '../../testing/kafka-test-kit';
import { eventually, TcpProxy } from '@tributary/testing';
import { ClusterAdmin } from '../cluster-admin';
import type { KafkaConnection } from '../kafka-connection';
import { KafkaModule } from '../kafka.module';
import { KafkaHealthIndicator } from './kafka-health.indicator';

/** A connection to the local broker through a TCP hop the test can cut (every broker address rewritten to it). */
async function linked(): Promise<{ link: TcpProxy; connection: KafkaConnection }> {
  const [host, port] = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')[0]?.split(':') ?? [];
  const link = new TcpProxy(host ?? '127.0.0.1', Number(port ?? 9092));
  await link.open();
  const connection = {
    ...testConnection({ KAFKA_BROKERS: `127.0.0.1:${link.port}`, KAFKA_CONNECTION_TIMEOUT_MS: '2s' }),
    brokerAddress: () => ({ host: '127.0.0.1', port: link.port }),
  };
  return { link, connection };
}

/** A probe answer is a verdict on the cluster, not on how busy this machine is: the timeout is generous. */
const PROBE_TIMEOUT_MS = 30_000;

/** Probes, as a readiness probe would, until the check reports up. */
async function probeUntilUp(indicator: KafkaHealthIndicator, timeoutMs: number): Promise<void> {
  await eventually(
    async () => (await indicator.isHealthy('kafka'))['kafka'].status === 'up',
    'the health check to report up again by itself',
    timeoutMs,
  );
}

describe('Kafka readiness', () => {
  it('the health check reports down while the brokers are unreachable and up again by itself once they are back, over one reused connection', async () => {
    const { link, connection } = await linked();
    const indicator = new KafkaHealthIndicator(connection, {
      service: 'kafka-it',
      config: testKafkaConfig(),
      healthTimeoutMs: PROBE_TIMEOUT_MS,
    });
    try {
      const up = await indicator.isHealthy('kafka');
      expect(up['kafka'].status).toBe('up');
      expect(up['kafka']['brokersUp']).toBeGreaterThanOrEqual(1);
      expect(up['kafka']['clusterId']).toEqual(expect.any(String));
      for (let probe = 0; probe < 5; probe++) await indicator.isHealthy('kafka');
      expect(link.openConnections).toBeLessThanOrEqual(2);

      link.refuse();
      const down = await indicator.isHealthy('kafka');
      expect(down['kafka'].status).toBe('down');
      expect(String(down['kafka']['message'])).toMatch(/^Kafka /);

      link.restore();
      await probeUntilUp(indicator, 60_000);
      expect(link.openConnections).toBeLessThanOrEqual(2);
    } finally {
      await indicator.onApplicationShutdown();
      await link.cut();
    }
  }, 120_000);

  it('an app whose Kafka is unreachable at boot starts anyway, reports not ready, then ensures its topics and reports ready once Kafka is back', async () => {
    const { link, connection } = await linked();
    const spec: TopicSpec = { ...CATALOG['market.trades'], topic: uniqueName('it-module-trades'), partitions: 2 };

    @Controller()
    class ProbeController {
      constructor(@Inject(KafkaHealthIndicator) private readonly kafka: KafkaHealthIndicator) {}

      @Get()
      probe() {
        return this.kafka.isHealthy('kafka');
      }
    }

    @Module({
      imports: [
        KafkaModule.forRoot({
          service: 'kafka-it',
          config: testKafkaConfig(),
          connection,
          ensureTopics: [spec],
          logger: quietLogger(),
          healthTimeoutMs: PROBE_TIMEOUT_MS,
        }),
      ],
      controllers: [ProbeController],
    })
    class ServiceModule {}

    link.refuse();
    const app = await NestFactory.create(ServiceModule, { logger: false });
    await app.init();
    const health = app.get(KafkaHealthIndicator);
    const admin = new ClusterAdmin(testConnection());
    try {
      expect((await health.isHealthy('kafka'))['kafka'].status).toBe('down');

      link.restore();
      await probeUntilUp(health, 90_000);
      expect(await admin.listTopics()).toContain(spec.topic);
    } finally {
      await app.close();
      await admin.deleteTopics([spec.topic]).catch(() => undefined);
      await admin.close();
      await link.cut();
    }
  }, 150_000);
});
