import { type DynamicModule, Module } from '@nestjs/common';
import type { ConfigOf, postgresEnv, s3Env, serviceEnv } from '@tributary/config';
import type { TopicSpec } from '@tributary/contracts';
import { KafkaModule, type KafkaEnvConfig } from '@tributary/kafka';
import { HealthModule, LoggingModule, MetricsModule } from '@tributary/observability';
import type { AuthConfig } from './auth/auth-env';
import { Authenticator } from './auth/authenticator';
import { frontDoorProviders } from './auth/front-door';
import { HttpIntake } from './auth/http-intake';
import { DEFAULT_JSON_LIMITS } from './auth/json-limits';
import { SecurityLog } from './auth/security-log';

type ServiceConfig = ConfigOf<ReturnType<typeof serviceEnv>> & KafkaEnvConfig & AuthConfig;

/** Largest JSON body of a service's API (rules, job and snapshot requests are a few kilobytes). */
const MAX_JSON_BODY_BYTES = 256 * 1024;

export interface ServiceCoreOptions<C extends ServiceConfig> {
  /** Service name: logs, metrics label, Kafka client id and `producer` header. */
  readonly service: string;
  readonly config: C;
  /** Readiness also needs PostgreSQL at `DATABASE_URL`. */
  readonly postgres?: C extends ConfigOf<typeof postgresEnv> ? boolean : never;
  /** Readiness also needs the S3 bucket `S3_BUCKET`. */
  readonly s3?: C extends ConfigOf<typeof s3Env> ? boolean : never;
  /** Create the catalog's topics (and their DLQs), or these topics, in the background at start-up. */
  readonly ensureTopics?: boolean | readonly TopicSpec[];
  /** Path prefixes whose request bodies the service reads itself, with its own limits (event ingestion). */
  readonly rawBodyPaths?: readonly string[];
}

/**
 * What every Tributary service has, in one import: JSON logs, `/metrics`, the Kafka client and
 * typed producer, the health indicators of the dependencies it names, and the HTTP front door:
 * authentication of every request but the health probes and metrics (API keys, OIDC bearer
 * tokens), bounded JSON bodies, a scope check per route and generic 5xx bodies. The service adds
 * its own `HealthController` (extending `ReadinessController`) and domain modules.
 */
@Module({})
export class ServiceCoreModule {
  static forRoot<C extends ServiceConfig>(options: ServiceCoreOptions<C>): DynamicModule {
    const { service, config } = options;
    const withPostgres = options.postgres ? (config as unknown as ConfigOf<typeof postgresEnv>) : undefined;
    const withS3 = options.s3 ? (config as unknown as ConfigOf<typeof s3Env>) : undefined;
    return {
      module: ServiceCoreModule,
      imports: [
        LoggingModule.forRoot({ service, level: config.LOG_LEVEL, instance: config.INSTANCE_ID }),
        MetricsModule.forRoot({ service }),
        KafkaModule.forRoot({ service, config, ensureTopics: options.ensureTopics ?? false }),
        HealthModule.forRoot({
          postgres: withPostgres && {
            connectionString: withPostgres.DATABASE_URL,
            applicationName: `${service}-health`,
          },
          s3: withS3 && { config: withS3, bucket: withS3.S3_BUCKET },
        }),
      ],
      providers: frontDoorProviders(config, {
        rawBodyPaths: options.rawBodyPaths ?? [],
        maxJsonBodyBytes: MAX_JSON_BODY_BYTES,
        jsonLimits: DEFAULT_JSON_LIMITS,
      }),
      exports: [
        LoggingModule,
        MetricsModule,
        KafkaModule,
        HealthModule,
        Authenticator,
        HttpIntake,
        SecurityLog,
      ],
    };
  }
}
