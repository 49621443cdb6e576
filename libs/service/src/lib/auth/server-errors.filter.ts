import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ReadinessFailure } from '@tributary/observability';
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';

/**
 * A 5xx whose body the service wrote itself for the caller (what happened and what to do, e.g.
 * "nothing was sent: resend with the same idempotency keys"), never a driver's message; it is
 * answered as thrown.
 */
export class PublicServerError extends HttpException {}

/** Fields of a 5xx answer a caller may see; everything else (driver messages, hosts, stacks) stays in the log. */
const PUBLIC_FIELDS = ['dependency', 'retryAfterSeconds'] as const;

function genericMessage(status: number, dependency: unknown): string {
  if (typeof dependency === 'string' && dependency !== '') return `${dependency} is unavailable; retry later`;
  if (status === 503) return 'the service cannot answer right now; retry later';
  if (status === 504) return 'the service did not get an answer in time';
  return 'internal error; the details are in the service log';
}

/**
 * Every answer of 500 or above gets a generic body (`statusCode`, `error`, `message`, and the
 * `dependency` and `retryAfterSeconds` fields when set); the exception itself is logged with the
 * request's correlation ID. 4xx answers pass unchanged (they describe the caller's request), as do
 * readiness answers, which already leave the drivers' messages out, and {@link PublicServerError}s.
 */
@Catch()
export class ServerErrorsFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const response = host.switchToHttp().getResponse<ServerResponse>();
    const request = host.switchToHttp().getRequest<{ method?: string; url?: string }>();
    const status = exception instanceof HttpException ? exception.getStatus() : 500;
    let body: Record<string, unknown>;
    if (
      exception instanceof HttpException &&
      (status < 500 || exception instanceof ReadinessFailure || exception instanceof PublicServerError)
    ) {
      const answer = exception.getResponse();
      body =
        typeof answer === 'string'
          ? { statusCode: status, message: answer }
          : (answer as Record<string, unknown>);
    } else {
      const answer = exception instanceof HttpException ? exception.getResponse() : undefined;
      const fields = typeof answer === 'object' && answer !== null ? (answer as Record<string, unknown>) : {};
      body = {
        statusCode: status,
        error: STATUS_CODES[status] ?? 'Error',
        message: genericMessage(status, fields['dependency']),
      };
      for (const field of PUBLIC_FIELDS) if (fields[field] !== undefined) body[field] = fields[field];
      this.logger.error(
        { err: exception, status, method: request.method, path: (request.url ?? '').split('?', 1)[0] },
        `${request.method ?? ''} ${(request.url ?? '').split('?', 1)[0]} answered ${status}`,
      );
    }
    if (response.headersSent) {
      response.destroy();
      return;
    }
    response.statusCode = status;
    response.setHeader('content-type', 'application/json; charset=utf-8');
    response.end(JSON.stringify(body));
  }
}
