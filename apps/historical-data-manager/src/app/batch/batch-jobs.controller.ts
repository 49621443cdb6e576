import type { ServerResponse } from 'node:http';
import { Body, Controller, Get, HttpCode, HttpException, HttpStatus, Inject, Param, Post, Query, Res } from '@nestjs/common';
import type { BatchConfig } from './batch-env';
import { BATCH_CONFIG, BatchJobService, type BatchRunView } from './batch-job.service';
import { BatchRequestRejection, parseBatchJobRequest } from './batch-request';
import { RequireScope } from '@tributary/service';

/** The batch runner: start a job over a time range, follow its progress, list recent runs. */
@Controller('v1/jobs')
export class BatchJobsController {
  constructor(
    private readonly jobs: BatchJobService,
    @Inject(BATCH_CONFIG) private readonly config: BatchConfig,
  ) {}

  /** `{ job, from, to, symbols?, params? }` -> 202 with the queued run (its id, status and where to follow it). */
  @Post()
  @RequireScope('admin')
  @HttpCode(202)
  async start(@Body() body: unknown, @Res({ passthrough: true }) response: ServerResponse): Promise<BatchRunView> {
    const run = await this.answer(async () =>
      this.jobs.submit(
        parseBatchJobRequest(body, {
          maxRangeMs: this.config.BATCH_MAX_RANGE_MS,
          maxSymbols: 1000,
          archivedTopics: this.config.ARCHIVE_TOPICS ?? [],
        }),
      ),
    );
    response.setHeader('Location', `/v1/jobs/${run.id}`);
    return run;
  }

  /** Recent runs, newest first (`?limit=`, 1 to 500, default 50). */
  @Get()
  @RequireScope('read:archive.jobs')
  async list(@Query() query: Record<string, unknown>): Promise<{ jobs: BatchRunView[] }> {
    return this.answer(async () => {
      for (const name of Object.keys(query)) {
        if (name !== 'limit') throw new BatchRequestRejection(400, name, `unknown parameter "${name}" (known: limit)`);
      }
      const raw = query['limit'];
      const limit = raw === undefined ? 50 : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(limit >= 1 && limit <= 500)) throw new BatchRequestRejection(400, 'limit', 'limit must be a whole number from 1 to 500');
      return { jobs: await this.jobs.list(limit) };
    });
  }

  /** One run: status, percent, rows, ETA, and once finished its result (the reconciliation report for reconcile). */
  @Get(':id')
  @RequireScope('read:archive.jobs')
  async one(@Param('id') id: string): Promise<BatchRunView> {
    return this.answer(async () => {
      const run = await this.jobs.get(id);
      if (run === null) throw new BatchRequestRejection(404, 'id', `no batch run ${JSON.stringify(id)}`);
      return run;
    });
  }

  private async answer<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof BatchRequestRejection) {
        throw new HttpException(
          { statusCode: error.status, error: HttpStatus[error.status], message: error.message, parameter: error.parameter },
          error.status,
        );
      }
      throw error;
    }
  }
}
