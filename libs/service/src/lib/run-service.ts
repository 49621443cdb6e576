import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { type ConfigIssue, type ConfigOf, type EnvSpec, loadConfigOrExit, type serviceEnv } from '@tributary/config';
import { connectKafkaConsumer, kafkaConfigIssues, type KafkaEnvConfig } from '@tributary/kafka';
import { TributaryMetrics } from '@tributary/observability';
import { authConfigIssues, type AuthConfig } from './auth/auth-env';

type RuntimeConfig = ConfigOf<ReturnType<typeof serviceEnv>> & KafkaEnvConfig & { KAFKA_GROUP_ID: string };

export interface RunServiceOptions<S extends EnvSpec> {
  /** Service name, as in logs, metrics and the `producer` header. */
  readonly service: string;
  /** The service's environment variables; the process exits naming each bad one. */
  readonly env: S;
  /** Builds the root module from the validated configuration. */
  readonly module: (config: ConfigOf<S>) => DynamicModule;
  /** Connect the Kafka batch consumer, so the app's `@EventPattern` handlers receive records. */
  readonly consumer?: boolean;
  /** The service's checks across variables (e.g. a key required only in one mode), reported with the others. */
  readonly configIssues?: (config: ConfigOf<S>) => readonly ConfigIssue[];
}

/**
 * The whole `main.ts` of a service: validates the environment (exiting with a message naming each
 * bad variable), builds the Nest app with JSON logs, attaches the Kafka consumer, serves HTTP on
 * `PORT` and shuts down in order on SIGTERM/SIGINT (consumer batch finished and committed,
 * producer flushed) within `SHUTDOWN_TIMEOUT_MS`.
 */
export async function runService<S extends EnvSpec>(options: RunServiceOptions<S>): Promise<INestApplication> {
  const config = loadConfigOrExit(options.service, options.env, process.env, (parsed) => [
    ...kafkaConfigIssues(parsed as unknown as KafkaEnvConfig),
    ...authConfigIssues(parsed as unknown as AuthConfig),
    ...(options.configIssues?.(parsed) ?? []),
  ]);
  const runtime = config as unknown as RuntimeConfig;

  const app = await NestFactory.create(options.module(config), { bufferLogs: true });
  const logger = app.get(Logger);
  app.useLogger(logger);
  app.enableShutdownHooks();
  exitIfShutdownHangs(runtime.SHUTDOWN_TIMEOUT_MS);

  if (options.consumer) {
    connectKafkaConsumer(app, {
      service: options.service,
      groupId: runtime.KAFKA_GROUP_ID,
      config: runtime,
      metrics: app.get(TributaryMetrics),
      shutdownTimeoutMs: runtime.SHUTDOWN_TIMEOUT_MS,
    });
    await app.startAllMicroservices();
  }

  await app.listen(runtime.PORT, '0.0.0.0');
  logger.log(`${options.service} listening on http://0.0.0.0:${runtime.PORT} (health: /health/ready, metrics: /metrics)`);
  return app;
}

/** Nest runs the shutdown hooks on SIGTERM; this makes sure the process still ends if one hangs. */
function exitIfShutdownHangs(shutdownTimeoutMs: number): void {
  const arm = (): void => {
    setTimeout(() => {
      process.stderr.write(`shutdown did not finish within ${shutdownTimeoutMs + 5000} ms; exiting\n`);
      process.exit(1);
    }, shutdownTimeoutMs + 5000).unref();
  };
  process.once('SIGTERM', arm);
  process.once('SIGINT', arm);
}
