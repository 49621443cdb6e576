import { Get, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';

/** Keys of an indicator's details that may hold a driver's message (hosts, paths, credentials in URLs). */
const PRIVATE_DETAIL_KEYS = new Set(['message', 'error', 'cause', 'stack']);

function withoutDriverMessages(section: unknown): unknown {
  if (section === null || typeof section !== 'object') return section;
  return Object.fromEntries(
    Object.entries(section as Record<string, unknown>).map(([name, indicator]) => [
      name,
      indicator !== null && typeof indicator === 'object'
        ? Object.fromEntries(Object.entries(indicator as Record<string, unknown>).filter(([key]) => !PRIVATE_DETAIL_KEYS.has(key)))
        : indicator,
    ]),
  );
}

/**
 * A readiness probe's 503: which dependency is down and its non-secret details, without the
 * drivers' messages (those are in the service log, written when readiness changes). The probe is
 * open to anyone who can reach the port, so its body says no more than that.
 */
export class ReadinessFailure extends ServiceUnavailableException {
  constructor(result: unknown) {
    const body = (result ?? {}) as Partial<HealthCheckResult>;
    super({ status: body.status ?? 'error', info: body.info, error: withoutDriverMessages(body.error), details: withoutDriverMessages(body.details) });
  }
}

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
      if (!(error instanceof ServiceUnavailableException)) throw error;
      this.noteReadiness(false, error.getResponse());
      throw new ReadinessFailure(error.getResponse());
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
