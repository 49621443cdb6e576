import { Controller, Get, HttpCode, Post } from '@nestjs/common';
import { RequireScope } from '@tributary/service';
import type { ApplyReport, DriftReport } from './topic-reconciler';
import { CatalogTopics } from './catalog-topics';

/** The topic catalog against the cluster: `GET /admin/topics` reports drift, `POST /admin/topics/apply` removes it. */
@Controller('admin/topics')
@RequireScope('admin')
export class TopicsController {
  constructor(private readonly topics: CatalogTopics) {}

  @Get()
  drift(): Promise<DriftReport> {
    return this.topics.reconciler().then((reconciler) => reconciler.drift());
  }

  @Post('apply')
  @HttpCode(200)
  apply(): Promise<ApplyReport> {
    return this.topics.reconciler().then((reconciler) => reconciler.apply());
  }
}
