import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseEnv } from '@tributary/config';
import type { KafkaBatchServer } from '@tributary/kafka';
import { TEST_AUTH_API_KEYS, readInfraEnv } from '@tributary/testing';
import type { AddressInfo } from 'node:net';
import { historicalDataManagerEnv, type HistoricalDataManagerConfig } from '../config';
import { AppModule } from '../app/app.module';
import { connectArchiveConsumer } from '../app/archive/archive-consumer';

const infraEnv = readInfraEnv();

/** The service's configuration against the local infrastructure, with `overrides`. */
export function testConfig(overrides: Record<string, string>): HistoricalDataManagerConfig {
  return parseEnv(historicalDataManagerEnv, {
    AUTH_API_KEYS: TEST_AUTH_API_KEYS,
    LOG_LEVEL: 'warn',
    KAFKA_BROKERS: infraEnv['KAFKA_BROKERS'] as string,
    DATABASE_URL: infraEnv['DATABASE_URL'] as string,
    S3_ENDPOINT: infraEnv['S3_ENDPOINT'] as string,
    S3_ACCESS_KEY_ID: infraEnv['S3_ACCESS_KEY_ID'] as string,
    S3_SECRET_ACCESS_KEY: infraEnv['S3_SECRET_ACCESS_KEY'] as string,
    S3_BUCKET: 'tributary-test',
    ...overrides,
  });
}

export interface RunningApp {
  app: INestApplication;
  server?: KafkaBatchServer;
  baseUrl: string;
  close(): Promise<void>;
}

/** The service as `main.ts` runs it, in this process, on a free port; with the archive consumer when topics are configured. */
export async function startTestApp(config: HistoricalDataManagerConfig): Promise<RunningApp> {
  const app = await NestFactory.create(AppModule.forRoot(config), { logger: false });
  let server: KafkaBatchServer | undefined;
  if (config.ARCHIVE_TOPICS.length > 0) {
    server = connectArchiveConsumer(app, {
      service: 'historical-data-manager',
      groupId: config.KAFKA_GROUP_ID,
      config,
      shutdownTimeoutMs: 20_000,
    });
    await app.startAllMicroservices();
  }
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, server, baseUrl: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** A counter or gauge of `GET /metrics` (0 when absent). */
export async function metricValue(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}
