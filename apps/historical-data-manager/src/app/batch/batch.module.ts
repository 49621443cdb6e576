import { type DynamicModule, Module } from '@nestjs/common';
import type { BatchConfig } from './batch-env';
import { BATCH_CONFIG, BatchJobService } from './batch-job.service';
import { BatchJobsController } from './batch-jobs.controller';

/**
 * The batch layer: `POST /v1/jobs`, `GET /v1/jobs`, `GET /v1/jobs/:id`, and the runs of
 * `BATCH_SCHEDULE`. Jobs read the archive through the catalog and write gold datasets back into it.
 */
@Module({})
export class BatchModule {
  static forRoot(config: BatchConfig): DynamicModule {
    return {
      module: BatchModule,
      controllers: [BatchJobsController],
      providers: [{ provide: BATCH_CONFIG, useValue: config }, BatchJobService],
      exports: [BatchJobService],
    };
  }
}
