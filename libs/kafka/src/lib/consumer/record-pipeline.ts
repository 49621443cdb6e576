import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { formatFieldErrors, HEADERS, type TopicSpec, validateEvent } from '@tributary/contracts';
import { newCorrelationId, runWithCorrelationId, type TributaryMetrics } from '@tributary/observability';
import { type DeadLetterFailure, describeHandlerFailure } from '../record-headers';
import { retryDelayMs, type RetryPolicy } from '../retry-policy';
import { BatchInterruptedError, DeadLetterUnavailableError, UnprocessableRecordError } from './consumer-errors';
import { KafkaBatchContext, KafkaRecordContext } from './kafka-record-context';
import type { FetchedRecord } from './partition-fetcher';
import { recordHeader, recordValueText } from './record-batch-reader';

/** How the records of one topic are handled. */
export interface PipelineRoute {
  readonly topic: string;
  /** Gets one decoded value and its {@link KafkaRecordContext}, or (batch mode) all values and a {@link KafkaBatchContext}. */
  readonly handler: (data: unknown, context: KafkaRecordContext | KafkaBatchContext) => Promise<void>;
  readonly batchMode: boolean;
  /** Batch handlers only: the context collects durability promises (`commitWhenDurable`). */
  readonly deferCommit: boolean;
  /** The contract of the topic; records are checked against it when `validate` is on. */
  readonly spec: TopicSpec | undefined;
  readonly validate: boolean;
  /** False for catalog topics without a DLQ: unprocessable records are logged and skipped. */
  readonly deadLetter: boolean;
  readonly deadLetterTopic: string;
}

/** Writes the original record to a dead-letter topic with the failure headers; resolves once acknowledged. */
export type DeadLetterWrite = (deadLetterTopic: string, record: FetchedRecord, failure: DeadLetterFailure) => Promise<void>;

export interface RecordPipelineOptions {
  readonly groupId: string;
  readonly retry: RetryPolicy;
  readonly deadLetters: DeadLetterWrite;
  readonly metrics?: TributaryMetrics;
  readonly logger: Logger;
  /** Turns a handler's error into the DLQ's error type and reason (default: its name and message). */
  readonly describeFailure?: (error: unknown) => { errorType: string; reason: string };
  /** Called after a record reached its dead-letter topic. */
  readonly deadLettered?: (failure: DeadLetterFailure) => void;
  /** True once the batch must stop between two records (a shutdown ran out of time). */
  readonly interrupted?: () => boolean;
}

/** One partition's records to run through the pipeline. */
export interface PipelineBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly FetchedRecord[];
  readonly highWatermark: bigint;
}

/** How far a batch got: the records settled (handled or dead-lettered) are a prefix of it. */
export interface PipelineProgress {
  /** Records settled, from the first. */
  settled: number;
  /** Durability promises the handler gave for the settled records (deferred-commit routes). */
  readonly durables: Promise<unknown>[];
}

type Decoded = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly errorType: string; readonly reason: string };

const exhaustedKeyOf = (topic: string, partition: number, offset: bigint) => `${topic}|${partition}|${offset}`;

/**
 * The way from fetched bytes to a handler: decode (JSON) → validate (the topic's contract) →
 * handle, with retries and exponential backoff → dead-letter topic. A record that is not JSON or
 * breaks its contract goes to the DLQ at once; one whose handler keeps failing goes there after
 * the last attempt, and the partition moves on. A batch handler that keeps failing is split in
 * halves down to the records that fail, so a poison record costs a few attempts, not the batch.
 * If the DLQ cannot be written the batch stops there ({@link DeadLetterUnavailableError}) and the
 * record comes again; it then goes straight to the DLQ without new attempts.
 *
 * `signal` (a rebalance, a shutdown) cuts retry waits short: the batch stops at the record it was
 * on ({@link BatchInterruptedError}) and `progress` says how far it got. Otherwise the batch runs
 * to its end unless `interrupted` says it is out of time.
 */
export class RecordPipeline {
  /** Records that used up their attempts but could not reach the DLQ: on redelivery they go straight there. */
  private readonly exhausted = new Map<string, DeadLetterFailure>();

  constructor(private readonly options: RecordPipelineOptions) {}

  async run(route: PipelineRoute, batch: PipelineBatch, progress: PipelineProgress, signal: AbortSignal): Promise<void> {
    if (route.batchMode) await this.runBatch(route, batch, progress, signal);
    else await this.runRecords(route, batch, progress, signal);
  }

  /** Decodes (and validates) a record's value, or says why it cannot be handled. */
  decode(route: PipelineRoute, record: FetchedRecord): Decoded {
    const text = recordValueText(record);
    if (text === null) return { ok: true, value: null }; // a tombstone of a compacted topic
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return { ok: false, errorType: 'DeserializationError', reason: `value is not JSON: ${(error as Error).message}` };
    }
    if (route.validate && route.spec !== undefined) {
      const version = recordHeader(record, HEADERS.schemaVersion);
      // A newer writer may add optional fields this build does not know yet.
      const newer = version !== undefined && Number(version) > route.spec.version;
      const result = validateEvent(route.spec, value, { allowUnknownFields: newer });
      if (!result.ok) return { ok: false, errorType: 'ValidationError', reason: formatFieldErrors(result.errors) };
    }
    return { ok: true, value };
  }

  private async runRecords(route: PipelineRoute, batch: PipelineBatch, progress: PipelineProgress, signal: AbortSignal): Promise<void> {
    const { topic, partition, records } = batch;
    const timer = this.options.metrics?.handlerSeconds(topic);
    for (let index = progress.settled; index < records.length; index++) {
      if (this.options.interrupted?.()) throw new BatchInterruptedError('out of time to finish the batch');
      const record = records[index];
      await this.runRecord(route, partition, record, timer, signal);
      progress.settled = index + 1;
    }
  }

  private async runRecord(
    route: PipelineRoute,
    partition: number,
    record: FetchedRecord,
    timer: { observe(seconds: number): void } | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const { topic } = route;
    if (this.exhausted.size > 0) {
      const key = exhaustedKeyOf(topic, partition, record.offset);
      const failure = this.exhausted.get(key);
      if (failure !== undefined) {
        await this.deadLetter(route, record, failure);
        this.exhausted.delete(key);
        return;
      }
    }
    const decoded = this.decode(route, record);
    if (!decoded.ok) {
      this.options.metrics?.kafkaFailed(topic);
      await this.deadLetter(route, record, this.failureOf(route, partition, record, decoded, 0));
      return;
    }
    const context = new KafkaRecordContext(topic, partition, record, this.options.groupId);
    const correlationId = context.header(HEADERS.correlationId) || newCorrelationId();
    context.useCorrelationId(correlationId);
    for (let attempt = 1; ; attempt++) {
      context.attempt = attempt;
      const started = timer ? performance.now() : 0;
      try {
        await runWithCorrelationId(correlationId, () => route.handler(decoded.value, context));
        timer?.observe((performance.now() - started) / 1000);
        return;
      } catch (error) {
        this.options.metrics?.kafkaFailed(topic);
        if (error instanceof UnprocessableRecordError || attempt >= this.options.retry.maxAttempts) {
          const failure = this.failureOf(route, partition, record, this.describe(error), attempt);
          try {
            await this.deadLetter(route, record, failure);
          } catch (deadLetterError) {
            this.rememberExhausted(exhaustedKeyOf(topic, partition, record.offset), failure);
            throw deadLetterError;
          }
          return;
        }
        const delay = retryDelayMs(this.options.retry, attempt);
        this.options.logger.warn(
          { topic, partition, offset: String(record.offset), attempt, retryInMs: delay, correlationId, err: error },
          'handler failed; retrying',
        );
        await this.wait(delay, signal);
      }
    }
  }

  private async runBatch(route: PipelineRoute, batch: PipelineBatch, progress: PipelineProgress, signal: AbortSignal): Promise<void> {
    const { topic, partition } = batch;
    const records = progress.settled === 0 ? batch.records : batch.records.slice(progress.settled);
    // Records that cannot be decoded are settled first; the handler sees the rest, in order.
    const base = progress.settled;
    const values: unknown[] = [];
    const kept: FetchedRecord[] = [];
    /** Index in `records` of each kept record. */
    const positions: number[] = [];
    for (let index = 0; index < records.length; index++) {
      const record = records[index];
      const decoded = this.decode(route, record);
      if (decoded.ok) {
        values.push(decoded.value);
        kept.push(record);
        positions.push(index);
      } else {
        this.options.metrics?.kafkaFailed(topic);
        await this.deadLetter(route, record, this.failureOf(route, partition, record, decoded, 0));
      }
    }
    if (kept.length > 0) {
      progress.settled = base + positions[0];
      // After each segment, every record up to its last one is settled (handled or dead-lettered).
      const settle = (keptEnd: number) => (progress.settled = base + positions[keptEnd - 1] + 1);
      const segments = new SegmentRunner(this, route, partition, values, kept, batch.highWatermark, signal, progress, settle);
      await segments.run(0, kept.length, true);
    }
    progress.settled = batch.records.length;
  }

  /** @internal used by {@link SegmentRunner} */
  async invokeSegment(route: PipelineRoute, values: unknown[], context: KafkaBatchContext): Promise<void> {
    await runWithCorrelationId(undefined, () => route.handler(values, context));
  }

  /** @internal */
  get interrupted(): boolean {
    return this.options.interrupted?.() ?? false;
  }

  /** @internal */
  get retry(): RetryPolicy {
    return this.options.retry;
  }

  /** @internal */
  get log(): Logger {
    return this.options.logger;
  }

  /** @internal */
  get metrics(): TributaryMetrics | undefined {
    return this.options.metrics;
  }

  /** @internal */
  get groupId(): string {
    return this.options.groupId;
  }

  describe(error: unknown): { errorType: string; reason: string } {
    return (this.options.describeFailure ?? describeHandlerFailure)(error);
  }

  failureOf(
    route: PipelineRoute,
    partition: number,
    record: FetchedRecord,
    described: { errorType: string; reason: string },
    attempts: number,
  ): DeadLetterFailure {
    return {
      reason: described.reason,
      errorType: described.errorType,
      topic: route.topic,
      partition,
      offset: record.offset.toString(),
      attempts,
      consumerGroup: this.options.groupId,
      failedAt: new Date(),
    };
  }

  /** Waits `ms` before the next attempt; a rebalance or shutdown cuts it short. */
  async wait(ms: number, signal: AbortSignal): Promise<void> {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      throw new BatchInterruptedError('the partition is being given up during a retry delay');
    }
  }

  /** Writes the original record to its topic's DLQ and waits for the brokers' acknowledgement. */
  async deadLetter(route: PipelineRoute, record: FetchedRecord, failure: DeadLetterFailure): Promise<void> {
    const logFields = {
      topic: route.topic,
      partition: failure.partition,
      offset: failure.offset,
      attempts: failure.attempts,
      errorType: failure.errorType,
      reason: failure.reason,
      correlationId: recordHeader(record, HEADERS.correlationId),
    };
    if (!route.deadLetter) {
      this.options.logger.error(logFields, 'record skipped: its topic has no dead-letter topic in the catalog');
      return;
    }
    try {
      await this.options.deadLetters(route.deadLetterTopic, record, failure);
    } catch (error) {
      throw new DeadLetterUnavailableError(route.deadLetterTopic, error);
    }
    this.options.metrics?.kafkaDeadLettered(route.topic);
    this.options.logger.warn({ ...logFields, deadLetterTopic: route.deadLetterTopic }, 'record sent to the dead-letter topic');
    this.options.deadLettered?.(failure);
  }

  private rememberExhausted(key: string, failure: DeadLetterFailure): void {
    if (this.exhausted.size >= 10_000) this.exhausted.clear();
    this.exhausted.set(key, failure);
  }
}

/**
 * Runs a batch handler on a range of the decoded records. The whole batch gets the full retry
 * policy; if it still fails it is split in halves, each tried once, down to single records, which
 * get the full policy again and then the DLQ.
 */
class SegmentRunner {
  constructor(
    private readonly pipeline: RecordPipeline,
    private readonly route: PipelineRoute,
    private readonly partition: number,
    private readonly values: unknown[],
    private readonly records: FetchedRecord[],
    private readonly highWatermark: bigint,
    private readonly signal: AbortSignal,
    private readonly progress: PipelineProgress,
    private readonly settle: (keptEnd: number) => void,
  ) {}

  async run(start: number, end: number, fullRetries: boolean): Promise<void> {
    const { pipeline, route, partition } = this;
    const size = end - start;
    const attempts = fullRetries || size === 1 ? pipeline.retry.maxAttempts : 1;
    const whole = start === 0 && end === this.records.length;
    const records = whole ? this.records : this.records.slice(start, end);
    const values = whole ? this.values : this.values.slice(start, end);
    const context = new KafkaBatchContext(route.topic, partition, records, pipeline.groupId, this.highWatermark.toString());
    // promises of an attempt that threw are dropped: its records are handed over again
    const attemptDurables: Promise<unknown>[] = [];
    if (route.deferCommit) context.collectDurable(attemptDurables);
    const timer = pipeline.metrics?.handlerSeconds(route.topic);
    for (let attempt = 1; ; attempt++) {
      if (pipeline.interrupted) throw new BatchInterruptedError('out of time to finish the batch');
      context.attempt = attempt;
      attemptDurables.length = 0;
      const started = timer ? performance.now() : 0;
      try {
        await pipeline.invokeSegment(route, values, context);
        timer?.observe((performance.now() - started) / 1000);
        this.progress.durables.push(...attemptDurables);
        this.settle(end);
        return;
      } catch (error) {
        pipeline.metrics?.kafkaFailed(route.topic, size);
        const unprocessable = error instanceof UnprocessableRecordError;
        if (size === 1 && (unprocessable || attempt >= attempts)) {
          const record = this.records[start];
          await pipeline.deadLetter(route, record, pipeline.failureOf(route, partition, record, pipeline.describe(error), attempt));
          this.settle(end);
          return;
        }
        if (unprocessable || attempt >= attempts) {
          const middle = start + Math.floor(size / 2);
          pipeline.log.warn(
            { topic: route.topic, partition, firstOffset: String(this.records[start].offset), records: size, err: error },
            'batch handler failed; splitting the batch to find the failing records',
          );
          await this.run(start, middle, false);
          await this.run(middle, end, false);
          return;
        }
        const delay = retryDelayMs(pipeline.retry, attempt);
        pipeline.log.warn(
          { topic: route.topic, partition, records: size, attempt, retryInMs: delay, err: error },
          'batch handler failed; retrying',
        );
        await pipeline.wait(delay, this.signal);
      }
    }
  }
}
