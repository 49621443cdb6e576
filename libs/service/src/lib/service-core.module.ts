import { type DynamicModule, Module } from '@nestjs/common';
import type { ConfigOf, postgresEnv, s3Env, serviceEnv } from '@tributary/config';
import type { TopicSpec } from '@tributary/contracts';
import { KafkaModule, type KafkaEnvConfig } from '@tributary/kafka';
import { HealthModule, LoggingModule, MetricsModule } from '@tributary/observability';

type ServiceConfig = ConfigOf<ReturnType<typeof serviceEnv>> & KafkaEnvConfig;

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
}

/**
 * What every Tributary service has, in one import: JSON logs, `/metrics`, the Kafka client and
 * typed producer, and the health indicators of the dependencies it names. The service adds its
 * own `HealthController` (extending `ReadinessController`) and domain modules.
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
          postgres: withPostgres && { connectionString: withPostgres.DATABASE_URL, applicationName: `${service}-health` },
          s3: withS3 && { config: withS3, bucket: withS3.S3_BUCKET },
        }),
      ],
      exports: [LoggingModule, MetricsModule, KafkaModule, HealthModule],
    };
  }
}
