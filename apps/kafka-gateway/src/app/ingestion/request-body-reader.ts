import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { HttpIntake, readBoundedBody } from '@tributary/service';

export const INGESTION_OPTIONS = Symbol('INGESTION_OPTIONS');

export interface IngestionOptions {
  /** Largest request body, in bytes (`GATEWAY_MAX_BODY_BYTES`). */
  readonly maxBodyBytes: number;
  /** Events waiting for broker acknowledgements across all requests (`GATEWAY_MAX_IN_FLIGHT_EVENTS`). */
  readonly maxInFlightEvents: number;
  /** How long a request waits for the acknowledgement before answering 503 (`GATEWAY_ACK_TIMEOUT_MS`). */
  readonly ackTimeoutMs: number;
}

type BodyRequest = IncomingMessage & { body?: unknown; _body?: boolean };

function tooLarge(response: ServerResponse, limit: number): void {
  if (response.headersSent) return;
  response.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
  response.end(JSON.stringify({ statusCode: 413, error: 'Payload Too Large', message: `the body is larger than ${limit} bytes` }));
}

/**
 * Reads the bodies of `POST /v1/streams/...` as raw bytes (JSON and NDJSON alike) with the
 * gateway's own size limit, answering 413 as soon as the limit is passed without holding the rest.
 * It is registered on the HTTP server when the module is built, after the service's {@link HttpIntake}
 * (so a body is read only for an authenticated caller) and ahead of Nest's JSON parser, which then
 * leaves these bodies alone (the stream is consumed), so the limit is the gateway's.
 */
@Injectable()
export class RequestBodyReader {
  constructor(
    adapterHost: HttpAdapterHost,
    @Inject(INGESTION_OPTIONS) private readonly options: IngestionOptions,
    // Injected for its order only: the intake registers its authentication first.
    _intake: HttpIntake,
  ) {
    adapterHost.httpAdapter.use('/v1/streams', (request: BodyRequest, response: ServerResponse, next: (error?: unknown) => void) =>
      this.read(request, response, next),
    );
  }

  private read(request: BodyRequest, response: ServerResponse, next: (error?: unknown) => void): void {
    if (request.method !== 'POST') return next();
    const limit = this.options.maxBodyBytes;
    readBoundedBody(request, limit, (read) => {
      if ('tooLarge' in read) return tooLarge(response, limit);
      if ('error' in read) return next(read.error);
      request.body = read.body;
      request._body = true;
      next();
    });
  }
}
