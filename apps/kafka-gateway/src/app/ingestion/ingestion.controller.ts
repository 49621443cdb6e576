import {
  BadRequestException,
  Controller,
  Headers,
  HttpException,
  HttpStatus,
  Inject,
  NotFoundException,
  Param,
  PayloadTooLargeException,
  Post,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import { type EventOf, type FieldError, isTopicName, type TopicName, validateEvent } from '@tributary/contracts';
import { type OutgoingRecord, TypedProducer } from '@tributary/kafka';
import { ApiKeyGuard, RequireScope } from '../auth/api-key.guard';
import { readEventBatch, UnreadableBodyError } from './event-batch';
import { InFlightLimiter } from './in-flight-limiter';
import { IngestionMetrics } from './ingestion-metrics';
import { INGESTION_OPTIONS, type IngestionOptions } from './request-body-reader';
import { withTimeout } from './with-timeout';

/** Outcome of one event of a request, by its position. */
export type EventResult =
  | { readonly index: number; readonly status: 'accepted'; readonly idempotencyKey?: string }
  | { readonly index: number; readonly status: 'rejected'; readonly errors: readonly FieldError[] };

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

class RetryLater extends HttpException {
  constructor(status: HttpStatus, message: string, readonly retryAfterS: number) {
    super({ statusCode: status, message, retryAfterSeconds: retryAfterS }, status);
  }
}

/**
 * `POST /v1/streams/:stream/events`: validates each event against the catalog schema of the
 * stream and lands the valid ones on its topic, answering only once the brokers acknowledged them
 * (the typed producer is idempotent with acks=all).
 */
@Controller('v1/streams')
@UseGuards(ApiKeyGuard)
export class IngestionController {
  constructor(
    private readonly producer: TypedProducer,
    /** Shared with WebSocket producers: one bound on what the gateway holds for Kafka. */
    private readonly inFlight: InFlightLimiter,
    @Inject(INGESTION_OPTIONS) private readonly options: IngestionOptions,
    private readonly metrics: IngestionMetrics,
  ) {}

  @Post(':stream/events')
  @RequireScope((request) => `produce:${request.params?.['stream'] ?? ''}`)
  async ingest(
    @Param('stream') stream: string,
    @Req() request: { body?: unknown },
    @Headers('content-type') contentType: string | undefined,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) response: StatusResponse,
  ): Promise<IngestionAnswer> {
    if (!isTopicName(stream)) throw new NotFoundException(`unknown stream ${stream}: not in the topic catalog`);
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

    const results: EventResult[] = [];
    const records: OutgoingRecord<EventOf<TopicName>>[] = [];
    for (const event of events) {
      if (event.unreadable !== undefined) {
        results.push({ index: event.index, status: 'rejected', errors: [{ path: '', message: event.unreadable }] });
        continue;
      }
      const checked = validateEvent(stream, event.value);
      if (!checked.ok) {
        results.push({ index: event.index, status: 'rejected', errors: checked.errors });
        continue;
      }
      records.push({ value: checked.value, idempotencyKey: event.idempotencyKey });
      results.push({ index: event.index, status: 'accepted', idempotencyKey: event.idempotencyKey });
    }

    const rejected = results.length - records.length;
    const unreadable = events.filter((event) => event.unreadable !== undefined).length;
    this.metrics.rejectedEvents(stream, 'http', 'unreadable', unreadable);
    this.metrics.rejectedEvents(stream, 'http', 'schema', rejected - unreadable);
    if (records.length > 0) await this.land(stream, records, response);
    this.metrics.accepted(stream, 'http', records.length);
    response.status(rejected > 0 ? HttpStatus.BAD_REQUEST : HttpStatus.ACCEPTED);
    return { stream, accepted: records.length, rejected, results };
  }

  private async land(stream: TopicName, records: OutgoingRecord<EventOf<TopicName>>[], response: StatusResponse): Promise<void> {
    if (records.length > this.inFlight.capacity) {
      this.metrics.rejectedEvents(stream, 'http', 'too_large', records.length);
      throw new PayloadTooLargeException(`${records.length} events in one request; at most ${this.inFlight.capacity}`);
    }
    if (!this.inFlight.tryAcquire(records.length)) {
      this.metrics.rejectedEvents(stream, 'http', 'busy', records.length);
      response.setHeader('Retry-After', String(RETRY_AFTER_BUSY_S));
      throw new RetryLater(HttpStatus.TOO_MANY_REQUESTS, 'too many events waiting for Kafka acknowledgements; retry later', RETRY_AFTER_BUSY_S);
    }
    // The room is given back when the send settles, not at the timeout: events still in the
    // producer count against the bound until Kafka answers.
    const acknowledged = this.metrics.ackTimer(stream);
    const sent = this.producer.send(stream, records).finally(() => this.inFlight.release(records.length));
    try {
      await withTimeout(sent, this.options.ackTimeoutMs);
      acknowledged();
    } catch (error) {
      sent.catch(() => undefined);
      this.metrics.rejectedEvents(stream, 'http', 'unavailable', records.length);
      response.setHeader('Retry-After', String(RETRY_AFTER_UNAVAILABLE_S));
      throw new RetryLater(
        HttpStatus.SERVICE_UNAVAILABLE,
        `Kafka did not acknowledge the events (${(error as Error).message}); none is confirmed: resend them with the same idempotency keys`,
        RETRY_AFTER_UNAVAILABLE_S,
      );
    }
  }
}
