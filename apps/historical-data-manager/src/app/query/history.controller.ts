import type { ServerResponse } from 'node:http';
import {
  Controller,
  Get,
  HttpException,
  HttpStatus,
  Logger,
  Param,
  Query,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { DependencyUnavailableError } from '../archive/archive-dependencies';
import { type DatasetListing, HistoryQueryService } from './history-query.service';
import { QueryRejection } from './query-parameters';

/** Seconds a client should wait before asking again while S3 or PostgreSQL is away. */
const RETRY_AFTER_UNAVAILABLE_S = 5;

/** The query API of the archive: the dataset catalog, and rows of a dataset. */
@Controller('v1/datasets')
export class HistoryController {
  private readonly log = new Logger(HistoryController.name);

  constructor(private readonly history: HistoryQueryService) {}

  /** Every dataset: columns, committed files, rows, bytes, event-time range, rows not flushed yet. */
  @Get()
  async list(): Promise<{ datasets: DatasetListing[] }> {
    return { datasets: await this.answer(() => this.history.datasets()) };
  }

  @Get(':dataset')
  async one(@Param('dataset') dataset: string): Promise<DatasetListing> {
    return this.answer(() => this.history.dataset(dataset));
  }

  /** `?from=&to=&symbols=A,B&columns=a,b&format=json|ndjson|csv|parquet&limit=`, streamed. */
  @Get(':dataset/rows')
  async rows(
    @Param('dataset') dataset: string,
    @Query() query: Record<string, unknown>,
    @Res() response: ServerResponse,
  ): Promise<void> {
    try {
      await this.answer(() => this.history.rows(dataset, query, response));
    } catch (error) {
      if (!response.headersSent) throw error;
      // the status is gone already: cut the response so the client sees it incomplete
      this.log.error({ msg: 'rows response cut short', dataset, err: error });
      response.destroy(error as Error);
    }
  }

  private async answer<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof QueryRejection) {
        throw new HttpException(
          { statusCode: error.status, error: HttpStatus[error.status], message: error.message, parameter: error.parameter },
          error.status,
        );
      }
      if (error instanceof DependencyUnavailableError) {
        throw new ServiceUnavailableException({
          statusCode: 503,
          error: 'Service Unavailable',
          message: error.message,
          dependency: error.dependency,
          retryAfterSeconds: RETRY_AFTER_UNAVAILABLE_S,
        });
      }
      throw error;
    }
  }
}
