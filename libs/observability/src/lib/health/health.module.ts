import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import {
  POSTGRES_HEALTH_OPTIONS,
  PostgresHealthIndicator,
  type PostgresHealthOptions,
} from './postgres.health';
import { S3_HEALTH_OPTIONS, S3HealthIndicator, type S3HealthOptions } from './s3.health';

export interface HealthModuleOptions {
  /** Provide a {@link PostgresHealthIndicator} for this database. */
  postgres?: PostgresHealthOptions;
  /** Provide an {@link S3HealthIndicator} for this server and bucket. */
  s3?: S3HealthOptions;
  /**
   * After SIGTERM, `/health/ready` answers 503 and the shutdown waits this long so the load
   * balancer stops sending traffic first (terminus `gracefulShutdownTimeoutMs`). Default 0.
   */
  gracefulShutdownTimeoutMs?: number;
}

/**
 * The health building blocks of an app: terminus (`HealthCheckService`, `HealthIndicatorService`)
 * and the indicators asked for. The app declares its own controller extending
 * `ReadinessController` in the module that imports this one.
 */
@Module({})
export class HealthModule {
  static forRoot(options: HealthModuleOptions = {}): DynamicModule {
    const providers: Provider[] = [];
    const indicators: Provider[] = [];
    if (options.postgres) {
      providers.push({ provide: POSTGRES_HEALTH_OPTIONS, useValue: options.postgres });
      indicators.push(PostgresHealthIndicator);
    }
    if (options.s3) {
      providers.push({ provide: S3_HEALTH_OPTIONS, useValue: options.s3 });
      indicators.push(S3HealthIndicator);
    }
    return {
      module: HealthModule,
      // Readiness changes are logged by ReadinessController, once, rather than on every probe.
      imports: [
        TerminusModule.forRoot({
          logger: false,
          gracefulShutdownTimeoutMs: options.gracefulShutdownTimeoutMs,
        }),
      ],
      providers: [...providers, ...indicators],
      exports: [TerminusModule, ...indicators],
    };
  }
}
