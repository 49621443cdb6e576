import { Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ApiKeyGuard, RequireScope } from '../auth/api-key.guard';
import type { ApplyReport, DriftReport } from './topic-reconciler';
import { CatalogTopics } from './catalog-topics';

/** The topic catalog against the cluster: `GET /admin/topics` reports drift, `POST /admin/topics/apply` removes it. */
@Controller('admin/topics')
@UseGuards(ApiKeyGuard)
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
