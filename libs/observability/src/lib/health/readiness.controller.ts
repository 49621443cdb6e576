import { Get, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';

/**
 * Base of each app's health controller: `GET <prefix>/live` (the process answers, nothing
 * else is checked, so a dependency outage never gets the pod restarted) and
 * `GET <prefix>/ready` (every check of {@link readinessChecks}: 200 when all are up, 503 with
 * the details of each while one is down, 200 again once it is back). A change of readiness is
 * logged once, not on every probe.
 *
 * ```ts
 * @Controller('health')
 * export class HealthController extends ReadinessController {
 *   constructor(health: HealthCheckService, private readonly postgres: PostgresHealthIndicator) {
 *     super(health);
 *   }
 *   protected readinessChecks() {
 *     return [() => this.postgres.isHealthy('postgres')];
 *   }
 * }
 * ```
 */
@Injectable()
export abstract class ReadinessController {
  private readonly readinessLog = new Logger('Readiness');
  private lastReady?: boolean;

  constructor(protected readonly health: HealthCheckService) {}

  /** The checks `GET /ready` runs, in parallel. */
  protected abstract readinessChecks(): HealthIndicatorFunction[];

  @Get('live')
  @HealthCheck()
  live(): HealthCheckResult {
    const processInfo = { process: { status: 'up' as const, uptimeSeconds: Math.round(process.uptime()) } };
    return { status: 'ok', info: processInfo, error: {}, details: processInfo };
  }

  @Get('ready')
  @HealthCheck()
  async ready(): Promise<HealthCheckResult> {
    try {
      const result = await this.health.check(this.readinessChecks());
      this.noteReadiness(true, result);
      return result;
    } catch (error) {
      if (error instanceof ServiceUnavailableException) this.noteReadiness(false, error.getResponse());
      throw error;
    }
  }

  private noteReadiness(ready: boolean, result: unknown): void {
    if (ready === this.lastReady) return;
    const firstCheck = this.lastReady === undefined;
    this.lastReady = ready;
    if (ready && firstCheck) return;
    const details = (result as Partial<HealthCheckResult>).details;
    if (ready) this.readinessLog.log({ msg: 'ready again', details });
    else this.readinessLog.warn({ msg: 'not ready', details });
  }
}
