import { HttpException, HttpStatus, ServiceUnavailableException } from '@nestjs/common';
import { DependencyUnavailableError } from '../archive/archive-dependencies';
import { QueryRejection } from './query-parameters';

/** Seconds a client should wait before asking again while S3 or PostgreSQL is away. */
export const RETRY_AFTER_UNAVAILABLE_S = 5;

/**
 * Runs an API call and turns its refusals into HTTP answers: a {@link QueryRejection} into its 4xx
 * `{ statusCode, error, message, parameter }`, an unavailable store into 503 with `dependency` and
 * `retryAfterSeconds`.
 */
export async function answer<T>(work: () => Promise<T>): Promise<T> {
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
