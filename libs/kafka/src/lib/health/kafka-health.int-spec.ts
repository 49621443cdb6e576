import { Controller, Get, Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Kafka } from 'kafkajs';
import { CATALOG, type TopicSpec } from '@tributary/contracts';
import {
  BrokerOutage,
  quietLogger,
  testKafka,
  testKafkaConfig,
  uniqueName,
} from '../../testing/kafka-test-kit';
import { eventually } from '@tributary/testing';
import { kafkaClientConfig } from '../kafka-client';
import { KafkaModule } from '../kafka.module';
import { KafkaHealthIndicator } from './kafka-health.indicator';

function flakyClient(outage: BrokerOutage): Kafka {
  return new Kafka({
    ...kafkaClientConfig(testKafkaConfig(), 'kafka-it', quietLogger()),
    socketFactory: outage.socketFactory,
  });
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
    const outage = new BrokerOutage();
    const indicator = new KafkaHealthIndicator(flakyClient(outage), {
      service: 'kafka-it',
      config: testKafkaConfig(),
      healthTimeoutMs: PROBE_TIMEOUT_MS,
    });
    try {
      const up = await indicator.isHealthy('kafka');
      expect(up['kafka'].status).toBe('up');
      expect(up['kafka']['brokersUp']).toBeGreaterThanOrEqual(1);
      for (let probe = 0; probe < 5; probe++) await indicator.isHealthy('kafka');
      expect(outage.openSockets).toBeLessThanOrEqual(2);

      outage.begin();
      const down = await indicator.isHealthy('kafka');
      expect(down['kafka'].status).toBe('down');
      expect(String(down['kafka']['message'])).toMatch(/^Kafka /);

      outage.end();
      await probeUntilUp(indicator, 60_000);
      expect(outage.openSockets).toBeLessThanOrEqual(2);
    } finally {
      await indicator.onApplicationShutdown();
    }
  }, 120_000);

  it('an app whose Kafka is unreachable at boot starts anyway, reports not ready, then ensures its topics and reports ready once Kafka is back', async () => {
    const outage = new BrokerOutage();
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
          client: flakyClient(outage),
          ensureTopics: [spec],
          logger: quietLogger(),
          healthTimeoutMs: PROBE_TIMEOUT_MS,
        }),
      ],
      controllers: [ProbeController],
    })
    class ServiceModule {}

    outage.begin();
    const app = await NestFactory.create(ServiceModule, { logger: false });
    await app.init();
    const health = app.get(KafkaHealthIndicator);
    const admin = testKafka().admin();
    try {
      expect((await health.isHealthy('kafka'))['kafka'].status).toBe('down');

      outage.end();
      await probeUntilUp(health, 90_000);
      await admin.connect();
      expect(await admin.listTopics()).toContain(spec.topic);
    } finally {
      await app.close();
      await admin.deleteTopics({ topics: [spec.topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  }, 150_000);
});
