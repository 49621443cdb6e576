import {
  BadRequestException,
  Controller,
  ForbiddenException,
  Headers,
  HttpStatus,
  NotFoundException,
  Param,
  PayloadTooLargeException,
  Post,
  Req,
  Res,
} from '@nestjs/common';
import { isTopicName } from '@tributary/contracts';
import { type AuthenticatedRequest, PublicServerError, RequireScope } from '@tributary/service';
import { readEventBatch, UnreadableBodyError } from './event-batch';
import { EventLanding, type EventResult } from './event-landing';
import { ingestionRefusal } from './ingestion-policy';
import { IngestionMetrics } from './ingestion-metrics';

export type { EventResult } from './event-landing';

export interface IngestionAnswer {
  readonly stream: string;
  readonly accepted: number;
  readonly rejected: number;
  readonly results: readonly EventResult[];
}

interface StatusResponse {
  status(code: number): unknown;
  setHeader(name: string, value: string): unknown;
}

/** Seconds a client should wait before resending after a 429 or a 503. */
const RETRY_AFTER_BUSY_S = 1;
const RETRY_AFTER_UNAVAILABLE_S = 5;

/** 429 or 503 with the gateway's own advice (nothing was sent; resend with the same keys): shown as is. */
class RetryLater extends PublicServerError {
  constructor(status: HttpStatus, message: string, readonly retryAfterS: number) {
    super({ statusCode: status, message, retryAfterSeconds: retryAfterS, ...(status >= 500 ? { dependency: 'Kafka' } : {}) }, status);
  }
}

/**
 * `POST /v1/streams/:stream/events`: validates each event against the catalog schema of the
 * stream and lands the valid ones on its topic, answering only once the brokers acknowledged them
 * (the typed producer is idempotent with acks=all).
 */
@Controller('v1/streams')
export class IngestionController {
  constructor(
    private readonly landing: EventLanding,
    private readonly metrics: IngestionMetrics,
  ) {}

  @Post(':stream/events')
  @RequireScope((request) => `produce:${request.params?.['stream'] ?? ''}`)
  async ingest(
    @Param('stream') stream: string,
    @Req() request: AuthenticatedRequest,
    @Headers('content-type') contentType: string | undefined,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) response: StatusResponse,
  ): Promise<IngestionAnswer> {
    if (!isTopicName(stream)) throw new NotFoundException(`unknown stream ${stream}: not in the topic catalog`);
    const refusal = ingestionRefusal(stream);
    if (refusal !== undefined) throw new ForbiddenException(refusal);
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);

    let events;
    try {
      events = readEventBatch(body, contentType, idempotencyKey);
    } catch (error) {
      if (error instanceof UnreadableBodyError) {
        this.metrics.rejectedEvents(stream, 'http', 'unreadable', 1);
        throw new BadRequestException(error.message);
      }
      throw error;
    }

    const { results, records } = this.landing.check(stream, events, 'http', request.principal?.name ?? 'anonymous');
    const rejected = results.length - records.length;
    const landing = await this.landing.land(stream, records, 'http');
    if (landing?.refused === 'too_large') throw new PayloadTooLargeException(landing.message);
    if (landing !== undefined) {
      const busy = landing.refused === 'busy';
      const retryAfterS = busy ? RETRY_AFTER_BUSY_S : RETRY_AFTER_UNAVAILABLE_S;
      response.setHeader('Retry-After', String(retryAfterS));
      throw new RetryLater(busy ? HttpStatus.TOO_MANY_REQUESTS : HttpStatus.SERVICE_UNAVAILABLE, landing.message, retryAfterS);
    }
    response.status(rejected > 0 ? HttpStatus.BAD_REQUEST : HttpStatus.ACCEPTED);
    return { stream, accepted: records.length, rejected, results };
  }
}
