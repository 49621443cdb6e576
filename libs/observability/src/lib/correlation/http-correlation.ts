import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable, type NestMiddleware } from '@nestjs/common';
import { newCorrelationId, runWithCorrelationId } from './correlation-id';

/** Request header read first, and the response header the ID is echoed in. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';
/** Accepted when the caller (a proxy, an ingress) sets only the common request ID header. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * What an incoming ID may look like: UUIDs, W3C trace IDs, ULIDs and the like. Anything else
 * (too long, spaces, control characters) is replaced so a caller cannot forge log lines.
 */
const ACCEPTABLE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

const assignedId = Symbol('tributary.correlationId');

type RequestWithId = IncomingMessage & { [assignedId]?: string; id?: unknown };

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed && ACCEPTABLE_ID.test(trimmed) ? trimmed : undefined;
}

/**
 * The correlation ID of an HTTP request: the caller's `x-correlation-id`, else its
 * `x-request-id`, else a new UUID. Decided once per request (later calls return the same ID)
 * and echoed in the `x-correlation-id` response header. Usable as pino-http's `genReqId`.
 */
export function correlationIdForRequest(request: IncomingMessage, response?: ServerResponse): string {
  const req = request as RequestWithId;
  const existing = req[assignedId];
  if (existing !== undefined) return existing;
  const id =
    headerValue(request, CORRELATION_ID_HEADER) ??
    headerValue(request, REQUEST_ID_HEADER) ??
    newCorrelationId();
  req[assignedId] = id;
  if (response && !response.headersSent) response.setHeader(CORRELATION_ID_HEADER, id);
  return id;
}

/**
 * Connect/Express middleware: runs the rest of the request in the context of its correlation
 * ID, so `currentCorrelationId()` and every log line written while handling it carry the ID.
 */
export function correlationIdMiddleware(
  request: IncomingMessage,
  response: ServerResponse,
  next: () => void,
): void {
  runWithCorrelationId(correlationIdForRequest(request, response), next);
}

/** {@link correlationIdMiddleware} as a Nest middleware class (applied by `LoggingModule`). */
@Injectable()
export class CorrelationIdMiddleware implements NestMiddleware<IncomingMessage, ServerResponse> {
  use(request: IncomingMessage, response: ServerResponse, next: () => void): void {
    correlationIdMiddleware(request, response, next);
  }
}
