import type { ServerResponse } from 'node:http';
import { HttpException, HttpStatus, Logger, ServiceUnavailableException } from '@nestjs/common';
import { DependencyUnavailableError } from '../archive/archive-dependencies';
import { ArchiveFilesUnreadableError, countByState } from '../integrity/archive-file-state';
import { BudgetExceeded } from './query-budgets';
import { QueryRejection } from './query-parameters';

/** Seconds a client should wait before asking again while S3 or PostgreSQL is away. */
export const RETRY_AFTER_UNAVAILABLE_S = 5;

const log = new Logger('HttpAnswers');

/**
 * Runs an API call and turns its refusals into HTTP answers: a {@link QueryRejection} into its 4xx
 * `{ statusCode, error, message, parameter }`; a {@link BudgetExceeded} into 429 with `budget`,
 * `limit` and, when asking again may succeed, `retryAfterSeconds` (and a `Retry-After` header when
 * `response` is given); an unavailable store into 503 with `dependency` and `retryAfterSeconds`.
 * A 503 body names the store only: the driver's message goes to the log, never to the client.
 * Files a query needs that are missing, corrupt or lost are a 409 naming them (at most 100, with
 * their offset ranges) and the dataset's state: no `Retry-After`, since asking again cannot help.
 */
export async function answer<T>(work: () => Promise<T>, response?: ServerResponse): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw httpErrorOf(error, response);
  }
}

/** The HTTP answer of a refusal (see {@link answer}); other errors are returned as they are. */
export function httpErrorOf(error: unknown, response?: ServerResponse): unknown {
  if (error instanceof QueryRejection) {
    return new HttpException(
      {
        statusCode: error.status,
        error: HttpStatus[error.status],
        message: error.message,
        parameter: error.parameter,
      },
      error.status,
    );
  }
  if (error instanceof BudgetExceeded) {
    if (error.retryAfterSeconds !== null && response !== undefined && !response.headersSent) {
      response.setHeader('Retry-After', String(error.retryAfterSeconds));
    }
    return new HttpException(
      {
        statusCode: 429,
        error: 'Too Many Requests',
        message: error.message,
        budget: error.budget,
        limit: error.limit,
        parameter: error.parameter,
        ...(error.retryAfterSeconds === null ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
      },
      429,
    );
  }
  if (error instanceof ArchiveFilesUnreadableError) {
    log.warn({ msg: 'query answered 409: archive files unreadable', dataset: error.dataset, files: error.files.length });
    return new HttpException(
      {
        statusCode: 409,
        error: 'Conflict',
        message: error.message,
        parameter: 'allowPartial',
        dataset: error.dataset,
        datasetState: 'degraded',
        unreadableFiles: error.files.length,
        unreadableByState: countByState(error.files),
        unreadable: error.files.slice(0, 100),
      },
      409,
    );
  }
  if (error instanceof DependencyUnavailableError) {
    log.warn({
      msg: 'request answered 503: a store is unavailable',
      dependency: error.dependency,
      error: error.message,
    });
    if (response !== undefined && !response.headersSent)
      response.setHeader('Retry-After', String(RETRY_AFTER_UNAVAILABLE_S));
    return new ServiceUnavailableException({
      statusCode: 503,
      error: 'Service Unavailable',
      message: `${error.dependency} is unavailable; retry later`,
      dependency: error.dependency,
      retryAfterSeconds: RETRY_AFTER_UNAVAILABLE_S,
    });
  }
  return error;
}
