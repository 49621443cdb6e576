import { Body, Controller, Delete, Get, HttpException, Inject, Logger, NotFoundException, Param, Post, Put, Query, ServiceUnavailableException } from '@nestjs/common';
import type { Alert, CepRule } from '@tributary/contracts';
import { CepRunner } from '../kafka/cep-runner';
import { RecentAlerts } from '../observability/recent-alerts';
import { RuleAdmin, RuleRequestError } from '../rules/rule-admin';
import { RuleBook } from '../rules/rule-book';
import { RequireScope } from '@tributary/service';

const logger = new Logger('rules');

/**
 * A refused request answers its status and reason; anything else is the rules topic failing (Kafka):
 * a 503 that says so, with the client's own message (brokers, hosts) only in the log.
 */
async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RuleRequestError) throw new HttpException({ statusCode: error.status, message: error.message }, error.status);
    if (error instanceof HttpException) throw error;
    logger.error({ err: error }, 'writing to the rules topic failed');
    throw new ServiceUnavailableException({
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'the rules topic could not be written; see GET /rules/<id> for what it holds and retry',
      dependency: 'kafka',
    });
  }
}

/** Rules, patterns and recent alerts. Rule changes go through the rules topic, so every instance applies them. */
@Controller()
export class CepController {
  constructor(
    @Inject(RuleBook) private readonly rules: RuleBook,
    @Inject(RuleAdmin) private readonly admin: RuleAdmin,
    @Inject(CepRunner) private readonly runner: CepRunner,
    @Inject(RecentAlerts) private readonly recent: RecentAlerts,
  ) {}

  /** Every rule with its version, whether it runs, its inputs and its state on this instance's partitions. */
  @Get('patterns')
  @RequireScope('read:cep.rules')
  patterns() {
    const stats = this.runner.processors().flatMap((processor) => processor.stats().map((entry) => ({ ...entry, slot: processor.slot })));
    return {
      state: this.runner.state,
      partitions: this.runner.ownedPartitions(),
      global: this.runner.ownsGlobal(),
      patterns: this.rules.list().map(({ spec, compiled, error }) => {
        const mine = stats.filter((entry) => entry.rule === spec.id && entry.version === spec.version);
        return {
          id: spec.id,
          version: spec.version,
          enabled: spec.enabled,
          running: compiled !== undefined && spec.enabled,
          severity: spec.severity,
          description: spec.description ?? null,
          builtin: spec.builtin ?? null,
          inputs: compiled?.inputs ?? spec.document?.inputs ?? [],
          placement: compiled?.placement ?? null,
          error: error ?? null,
          state: {
            keys: mine.reduce((sum, entry) => sum + entry.keys, 0),
            partialMatches: mine.reduce((sum, entry) => sum + entry.partialMatches, 0),
            bufferedRecords: mine.reduce((sum, entry) => sum + entry.bufferedRecords, 0),
            watermarks: Object.fromEntries(mine.map((entry) => [String(entry.slot), entry.watermark])),
          },
        };
      }),
    };
  }

  @Get('alerts/recent')
  @RequireScope('read:cep.alerts')
  recentAlerts(@Query('limit') limit?: string, @Query('rule') rule?: string): { alerts: Alert.Value[] } {
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1) throw new HttpException({ statusCode: 400, message: 'limit: need a positive whole number' }, 400);
    return { alerts: this.recent.latest(n, rule) };
  }

  @Get('rules')
  @RequireScope('read:cep.rules')
  list(): { rules: CepRule.Value[] } {
    return { rules: this.rules.list().map((entry) => entry.spec) };
  }

  @Get('rules/:id')
  @RequireScope('read:cep.rules')
  get(@Param('id') id: string): CepRule.Value {
    const entry = this.rules.get(id);
    if (!entry) throw new NotFoundException(`no rule ${id}`);
    return entry.spec;
  }

  @Post('rules')
  @RequireScope('admin')
  create(@Body() body: unknown): Promise<CepRule.Value> {
    return answer(() => this.admin.create(body));
  }

  @Put('rules/:id')
  @RequireScope('admin')
  replace(@Param('id') id: string, @Body() body: unknown): Promise<CepRule.Value> {
    return answer(() => this.admin.replace(id, body));
  }

  @Delete('rules/:id')
  @RequireScope('admin')
  disable(@Param('id') id: string): Promise<CepRule.Value> {
    return answer(() => this.admin.disable(id));
  }
}
