import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { answer } from '../query/http-answers';
import { QueryRejection } from '../query/query-parameters';
import { ArchiveLifecycleService, type CompactionSummary } from './archive-lifecycle.service';
import type { CompactionRecord, SnapshotDescription } from './lifecycle-catalog';
import { parseCompactRequest, parseSnapshotRequest } from './lifecycle-requests';
import { RequireScope } from '@tributary/service';

/** Compaction on demand with its history, and snapshots of the archive. */
@Controller('v1')
export class LifecycleController {
  constructor(private readonly lifecycle: ArchiveLifecycleService) {}

  /** Merges the small files of the dataset: `{ date?: "YYYY-MM-DD", hour?: 0-23 }`; answers when done. */
  @Post('datasets/:dataset/compact')
  @RequireScope('admin')
  @HttpCode(200)
  async compact(@Param('dataset') dataset: string, @Body() body: unknown): Promise<CompactionSummary> {
    return answer(() => this.lifecycle.compact(dataset, parseCompactRequest(body), 'api'));
  }

  /** `?limit=` (default 100, at most 1000) compactions of the dataset, newest first. */
  @Get('datasets/:dataset/compactions')
  @RequireScope('read:archive.lifecycle')
  async compactions(
    @Param('dataset') dataset: string,
    @Query('limit') limit?: string,
  ): Promise<{ compactions: CompactionRecord[] }> {
    return answer(async () => {
      if (limit !== undefined && (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000)) {
        throw new QueryRejection(400, 'limit', `limit ${JSON.stringify(limit)} must be a whole number from 1 to 1000`);
      }
      return { compactions: await this.lifecycle.compactions(dataset, limit === undefined ? 100 : Number(limit)) };
    });
  }

  /** Files compaction or retention took out of the catalog whose objects are still kept (grace period, snapshot pins). */
  @Get('datasets/:dataset/retired')
  @RequireScope('read:archive.lifecycle')
  async retired(@Param('dataset') dataset: string): Promise<{ retired: Awaited<ReturnType<ArchiveLifecycleService['retiredObjects']>> }> {
    return answer(async () => ({ retired: await this.lifecycle.retiredObjects(dataset) }));
  }

  /** `{ name, datasets? }`: records the current committed files of the datasets (default: all). */
  @Post('snapshots')
  @RequireScope('admin')
  @HttpCode(201)
  async createSnapshot(@Body() body: unknown): Promise<SnapshotDescription> {
    return answer(() => this.lifecycle.createSnapshot(parseSnapshotRequest(body)));
  }

  @Get('snapshots')
  @RequireScope('read:archive.snapshots')
  async snapshots(): Promise<{ snapshots: SnapshotDescription[] }> {
    return answer(async () => ({ snapshots: await this.lifecycle.snapshots() }));
  }

  @Get('snapshots/:name')
  @RequireScope('read:archive.snapshots')
  async snapshot(@Param('name') name: string): Promise<SnapshotDescription> {
    return answer(() => this.lifecycle.snapshot(name));
  }

  /** Releases the snapshot: the files only it kept are deleted after the grace period. */
  @Delete('snapshots/:name')
  @RequireScope('admin')
  @HttpCode(204)
  async release(@Param('name') name: string): Promise<void> {
    await answer(() => this.lifecycle.releaseSnapshot(name));
  }
}
