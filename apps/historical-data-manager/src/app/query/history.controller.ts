import type { ServerResponse } from 'node:http';
import { Controller, Get, Logger, Param, Query, Req, Res } from '@nestjs/common';
import { type DatasetListing, HistoryQueryService } from './history-query.service';
import { answer } from './http-answers';
import { Authenticated, RequireScope } from '@tributary/service';

/** Reading a dataset's history needs `read:history.<dataset>` (`read:history.*` for all of them). */
const datasetScope = (request: { params?: Record<string, string> }): string => `read:history.${request.params?.['dataset'] ?? ''}`;

/** The query API of the archive: the dataset catalog, and rows of a dataset. */
@Controller('v1/datasets')
export class HistoryController {
  private readonly log = new Logger(HistoryController.name);

  constructor(private readonly history: HistoryQueryService) {}

  /** Every dataset: columns, committed files, rows, bytes, event-time range, rows not flushed yet. */
  @Get()
  @Authenticated()
  async list(): Promise<{ datasets: DatasetListing[] }> {
    return { datasets: await answer(() => this.history.datasets()) };
  }

  @Get(':dataset')
  @RequireScope(datasetScope)
  async one(@Param('dataset') dataset: string): Promise<DatasetListing> {
    return answer(() => this.history.dataset(dataset));
  }

  /**
   * `?from=&to=&symbols=A,B&columns=a,b&format=json|ndjson|csv|parquet&limit=`, streamed; 429 with
   * `Retry-After` beyond the concurrency budgets (per service, per caller), 429 naming the byte
   * budget when the query would read more archive bytes than one query may.
   */
  @Get(':dataset/rows')
  @RequireScope(datasetScope)
  async rows(
    @Param('dataset') dataset: string,
    @Query() query: Record<string, unknown>,
    @Req() request: { principal?: { name?: string } },
    @Res() response: ServerResponse,
  ): Promise<void> {
    try {
      await answer(() => this.history.rows(dataset, query, response, request.principal?.name ?? null), response);
    } catch (error) {
      if (!response.headersSent) throw error;
      // the status is gone already: cut the response so the client sees it incomplete
      this.log.error({ msg: 'rows response cut short', dataset, err: error });
      response.destroy(error as Error);
    }
  }
}
