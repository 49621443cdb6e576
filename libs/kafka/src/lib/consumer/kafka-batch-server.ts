import { EventEmitter } from 'node:events';
import { type CustomTransportStrategy, Server } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { isObservable, lastValueFrom } from 'rxjs';
import { dlqTopicOf, topicSpec, type TopicSpec } from '@tributary/contracts';
import { createLogger, raceTimeout, type TributaryMetrics } from '@tributary/observability';
import { type KafkaConnection, kafkaConnection, rootCauses } from '../kafka-connection';
import type { KafkaEnvConfig } from '../kafka-env';
import { TypedProducer } from '../producer/typed-producer';
import { type DeadLetterFailure, deadLetterHeaders, describeHandlerFailure } from '../record-headers';
import { assertRetryPolicy, DEFAULT_RETRY_POLICY, RECONNECT_BACKOFF, retryDelayMs, type RetryPolicy } from '../retry-policy';
import { createMissingTopics, deadLetterTopicConfig } from '../topics';
import { KAFKA_BATCH_HANDLER, KAFKA_DEFERRED_COMMIT } from './batch-event-pattern';
import { BatchInterruptedError } from './consumer-errors';
import { isNestGenericRpcError } from './handler-error-filter';
import { IncompleteBatchError, ManagedConsumer, type ManagedConsumerStatus, type PartitionBatch } from './managed-consumer';
import { type CommittedRange, OffsetLedger, type RevokedPartitions } from './offset-ledger';
import type { PausedTopic } from './pause-state';
import type { FetchedRecord } from './partition-fetcher';
import { type PipelineProgress, type PipelineRoute, RecordPipeline } from './record-pipeline';

export type { RevokedPartitions } from './offset-ledger';

export interface KafkaBatchServerOptions {
  /** Service name, for logs, the client id and the `producer` header of dead letters. */
  readonly service: string;
  /** Consumer group; one per service (every instance of the service shares the partitions). */
  readonly groupId: string;
  /** The service's Kafka configuration: the connection (unless `connection` is given), session timeout, retries. */
  readonly config?: KafkaEnvConfig;
  /** How to reach the cluster, instead of the one `config` describes. */
  readonly connection?: KafkaConnection;
  /**
   * Specs of consumed topics the catalog does not name (e.g. `changeEventTopic(...)` with the
   * table's own key); they take precedence over the catalog for validation and the DLQ policy.
   */
  readonly topicSpecs?: readonly TopicSpec[];
  /** Failing records: attempts and backoff. Default: KAFKA_HANDLER_* from `config`, else 5 attempts, 200 ms to 30 s. */
  readonly retry?: Partial<RetryPolicy>;
  /** Check each record against the catalog schema before the handler; default KAFKA_VALIDATE_EVENTS, else on. */
  readonly validate?: boolean;
  /** Where a new consumer group starts: the earliest record (default, nothing is skipped) or only new ones. */
  readonly fromBeginning?: boolean;
  /** Partitions handled at once (each one in order); default 3. */
  readonly partitionsConsumedConcurrently?: number;
  /** Fetch sizes and wait. */
  readonly fetch?: { readonly maxWaitMs?: number; readonly maxBytes?: number; readonly partitionMaxBytes?: number };
  /** Default KAFKA_SESSION_TIMEOUT_MS, else 30 s. */
  readonly sessionTimeoutMs?: number;
  /** Static membership: a restarted instance with the same id keeps its partitions without a rebalance. */
  readonly groupInstanceId?: string;
  /** Time `close()` gives the batches in flight before leaving the rest for redelivery; default 25 s. */
  readonly shutdownTimeoutMs?: number;
  readonly metrics?: TributaryMetrics;
  readonly logger?: Logger;
  /** Create missing `<topic>.dlq` topics of the subscribed topics on start; default true. */
  readonly ensureDeadLetterTopics?: boolean;
  /** Replication factor of created DLQ topics; default KAFKA_REPLICATION_FACTOR, else 1. */
  readonly replicationFactor?: number;
}

export type KafkaConsumerStatus = ManagedConsumerStatus;

/** What the readiness probe needs to know about the consumer. */
export interface KafkaConsumerHealth {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly status: KafkaConsumerStatus;
  readonly connected: boolean;
  readonly groupJoined: boolean;
  /** Partitions assigned to this instance, by topic. */
  readonly assignment: Readonly<Record<string, number[]>>;
  /** When the last batch was handled and committed, ISO-8601; null before the first. */
  readonly lastBatchAt: string | null;
  /** Records between the position and the high watermark, summed over the assigned partitions fetched so far. */
  readonly lag: number | null;
  /** The last failure to connect or consume, if the consumer is not running because of it. */
  readonly lastError: string | null;
}

/** Emitted (`server.on('batch', ...)`) after a batch was handled and its offsets committed. */
export interface CommittedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: string;
  readonly lastOffset: string;
  /** Records handled (or dead-lettered) and committed. */
  readonly records: number;
}

/** What `server.on(event, listener)` accepts. */
export type KafkaBatchServerEvents = {
  /** After a batch was handled and its offsets committed. */
  batch: (batch: CommittedBatch) => void;
  status: (status: KafkaConsumerStatus) => void;
  /** After a record was written to its dead-letter topic. */
  'dead-letter': (failure: DeadLetterFailure) => void;
  /**
   * Partitions of deferred-commit handlers whose uncommitted records are no longer this
   * consumer's to commit: the group rebalanced, the consumer stopped, or a durability promise of
   * the partition rejected. The app drops what it buffered of them and not yet made durable;
   * those records are delivered again.
   */
  'partitions-revoked': (revoked: RevokedPartitions[]) => void;
};

const EVENTS: readonly string[] = ['batch', 'status', 'dead-letter', 'partitions-revoked'] satisfies (keyof KafkaBatchServerEvents)[];

const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * The Kafka transport of every Tributary consumer: a Nest custom transport strategy that feeds the
 * `@EventPattern(topic)` (or {@link BatchEventPattern}) handlers of a service from a consumer group.
 * It adapts the library's parts to Nest: {@link ManagedConsumer} (group session, fetching, pause
 * state, rebalances), {@link RecordPipeline} (decode → validate → retry → DLQ) and
 * {@link OffsetLedger} (commits deferred until the app's records are durable).
 *
 * - Offsets are committed only after the records' handlers succeeded (or the records are safely in
 *   the DLQ): a crash at any point redelivers, never skips.
 * - A failing record is retried with exponential backoff; after the last attempt its original key,
 *   value and headers go to `<topic>.dlq` with the dlq.* headers, and the partition moves on.
 * - A record that is not JSON or fails the catalog schema goes to the DLQ at once.
 * - If the DLQ itself cannot be written, the partition stops at that record and reads it again.
 * - While the cluster is away the consumer keeps trying with backoff; the app stays up and
 *   reports not ready through {@link health}. A connection that goes silent is dropped after the
 *   request timeout and a new one is made.
 * - `close()` (SIGTERM with `enableShutdownHooks()`) stops fetching, finishes the batches in
 *   flight, commits and leaves the group.
 */
export class KafkaBatchServer
  extends Server<KafkaBatchServerEvents, KafkaConsumerStatus>
  implements CustomTransportStrategy
{
  private readonly connection: KafkaConnection;
  private readonly log: Logger;
  private readonly retryPolicy: RetryPolicy;
  private readonly validate: boolean;
  private readonly events = new EventEmitter();
  private readonly routes = new Map<string, PipelineRoute>();
  private readonly pipeline: RecordPipeline;
  private readonly ledger: OffsetLedger;
  /** Rewinds per deferred partition: batches handed over before a rewind are not committed. */
  private readonly rewound = new Map<string, number>();
  /** Pauses asked for before the consumer exists. */
  private readonly earlyPauses: { topic: string; partitions?: readonly number[]; pause: boolean }[] = [];
  private consumer?: ManagedConsumer;
  private deadLetterProducer?: TypedProducer;
  private lastBatchAt: number | null = null;
  private batchesInFlight = 0;
  private drainExpired = false;
  private closed?: Promise<void>;
  private started?: Promise<void>;
  private warnedGenericErrors = false;
  /** Why the consumer has not started yet, while it cannot. */
  private startError: string | null = null;

  constructor(private readonly options: KafkaBatchServerOptions) {
    super();
    if (!options.connection && !options.config) throw new Error('KafkaBatchServer needs `connection` or `config`');
    const logger = options.logger ?? createLogger(options.service);
    this.log = logger.child({ component: 'kafka-consumer', groupId: options.groupId });
    this.connection = options.connection ?? kafkaConnection(options.config as KafkaEnvConfig, options.service);
    const config = options.config;
    this.retryPolicy = {
      ...DEFAULT_RETRY_POLICY,
      ...(config && {
        maxAttempts: config.KAFKA_HANDLER_MAX_ATTEMPTS,
        baseDelayMs: config.KAFKA_HANDLER_RETRY_BASE_MS,
        maxDelayMs: config.KAFKA_HANDLER_RETRY_MAX_MS,
      }),
      ...options.retry,
    };
    assertRetryPolicy(this.retryPolicy);
    this.validate = options.validate ?? config?.KAFKA_VALIDATE_EVENTS ?? true;
    this.pipeline = new RecordPipeline({
      groupId: options.groupId,
      retry: this.retryPolicy,
      deadLetters: (topic, record, failure) => this.writeDeadLetter(topic, record, failure),
      metrics: options.metrics,
      logger: this.log,
      describeFailure: (error) => this.describeFailure(error),
      deadLettered: (failure) => this.events.emit('dead-letter', failure),
      interrupted: () => this.drainExpired,
    });
    this.ledger = new OffsetLedger({
      commit: async (offsets) => {
        if (this.consumer === undefined) throw new Error('the consumer is not running');
        await this.consumer.commit(offsets);
      },
      rewind: (topic, partition, from, attempt) => {
        const key = partitionKey(topic, partition);
        this.rewound.set(key, (this.rewound.get(key) ?? 0) + 1);
        this.consumer?.rewind(topic, partition, from, retryDelayMs(this.retryPolicy, attempt));
      },
      committed: (range) => this.emitCommitted(range),
      revoked: (revoked) => this.events.emit('partitions-revoked', revoked),
      logger: this.log,
    });
  }

  get groupId(): string {
    return this.options.groupId;
  }

  /** Topics this server consumes (those with a handler). */
  get topics(): string[] {
    return [...this.routes.keys()];
  }

  // ---- Nest transport strategy -------------------------------------------------------------

  /** Starts consuming in the background and returns at once: an absent cluster never blocks the app's start. */
  listen(callback: (...optionalParams: unknown[]) => unknown): void {
    try {
      this.buildRoutes();
    } catch (error) {
      callback(error);
      return;
    }
    if (this.routes.size === 0) {
      this.log.warn('no @EventPattern handlers registered: nothing to consume');
    } else {
      this.consumer = this.createConsumer();
      for (const { topic, partitions, pause } of this.earlyPauses.splice(0)) {
        if (pause) this.consumer.pause(topic, partitions);
        else this.consumer.resume(topic, partitions);
      }
      this.started = this.start(this.consumer);
    }
    callback();
  }

  /** Stops fetching, lets the batches in flight finish and commit, then leaves the group and disconnects. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  /** Listens to `batch` (committed), `status` changes, `dead-letter` writes or `partitions-revoked`. */
  on<
    EventKey extends keyof KafkaBatchServerEvents = keyof KafkaBatchServerEvents,
    EventCallback extends KafkaBatchServerEvents[EventKey] = KafkaBatchServerEvents[EventKey],
  >(event: EventKey, callback: EventCallback): this {
    if (!EVENTS.includes(event)) {
      throw new Error(`unknown KafkaBatchServer event "${String(event)}" (known: ${EVENTS.join(', ')})`);
    }
    this.events.on(event, callback);
    return this;
  }

  unwrap<T>(): T {
    return { consumer: this.consumer } as T;
  }

  /**
   * Stops fetching `topic` (or some of its partitions) until {@link resume}, e.g. while a
   * downstream store is down; records already fetched are still handled. Survives rebalances.
   */
  pause(topic: string, partitions?: readonly number[]): void {
    if (this.consumer) this.consumer.pause(topic, partitions);
    else this.earlyPauses.push({ topic, partitions, pause: true });
  }

  resume(topic: string, partitions?: readonly number[]): void {
    if (this.consumer) this.consumer.resume(topic, partitions);
    else this.earlyPauses.push({ topic, partitions, pause: false });
  }

  /** Topics (and partitions) currently paused. */
  pausedTopics(): PausedTopic[] {
    return this.consumer?.paused() ?? [];
  }

  // ---- health --------------------------------------------------------------------------------

  health(): KafkaConsumerHealth {
    const status = this.consumer?.status ?? (this.closed ? 'stopped' : 'starting');
    const assignment: Record<string, number[]> = {};
    for (const [topic, partitions] of this.consumer?.assignment ?? []) assignment[topic] = [...partitions];
    return {
      groupId: this.options.groupId,
      topics: this.topics,
      status,
      connected: status === 'group-joined' || status === 'rebalancing',
      groupJoined: status === 'group-joined',
      assignment,
      lastBatchAt: this.lastBatchAt === null ? null : new Date(this.lastBatchAt).toISOString(),
      lag: this.consumer?.lag ?? null,
      lastError: status === 'group-joined' ? null : (this.startError ?? this.consumer?.lastError ?? null),
    };
  }

  /** True while the consumer is a member of its group and not stopping. */
  get ready(): boolean {
    return this.consumer?.status === 'group-joined' && this.closed === undefined;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  private buildRoutes(): void {
    for (const [pattern, handler] of this.getHandlers()) {
      if (!/^[A-Za-z0-9._-]{1,249}$/.test(pattern)) {
        throw new Error(`@EventPattern("${pattern}") is not a Kafka topic name`);
      }
      const spec = this.options.topicSpecs?.find((candidate) => candidate.topic === pattern) ?? topicSpec(pattern);
      const batchMode = handler.extras?.[KAFKA_BATCH_HANDLER] === true;
      this.routes.set(pattern, {
        topic: pattern,
        handler: async (data, context) => {
          const result: unknown = await handler(data, context);
          if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
        },
        batchMode,
        deferCommit: batchMode && handler.extras?.[KAFKA_DEFERRED_COMMIT] === true,
        spec,
        validate: this.validate && spec !== undefined,
        deadLetter: spec?.dlq ?? true,
        deadLetterTopic: dlqTopicOf(pattern),
      });
    }
  }

  private createConsumer(): ManagedConsumer {
    return new ManagedConsumer(this.connection, {
      groupId: this.options.groupId,
      topics: this.topics,
      handle: (batch, signal) => this.handleBatch(batch, signal),
      autoCommit: false,
      fromBeginning: this.options.fromBeginning ?? true,
      sessionTimeoutMs: this.options.sessionTimeoutMs ?? this.options.config?.KAFKA_SESSION_TIMEOUT_MS ?? 30_000,
      groupInstanceId: this.options.groupInstanceId,
      maxWaitMs: this.options.fetch?.maxWaitMs,
      maxBytes: this.options.fetch?.maxBytes,
      partitionMaxBytes: this.options.fetch?.partitionMaxBytes,
      partitionsConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      retryDelayMs: 1_000,
      onRevoked: async (assignment) => {
        const partitions = [...assignment].flatMap(([topic, list]) => list.map((partition) => ({ topic, partition })));
        await this.ledger.revoke(partitions, this.closed ? 'the consumer is stopping' : 'the group rebalanced');
      },
      onAssigned: (assignment) => this.log.info({ assignment: Object.fromEntries(assignment) }, 'joined the consumer group'),
      onStatus: (status) => {
        this._status$.next(status);
        this.events.emit('status', status);
      },
      logger: this.log,
    });
  }

  private async start(consumer: ManagedConsumer): Promise<void> {
    if (this.options.ensureDeadLetterTopics ?? true) {
      // Before joining: a record dead-lettered in the first batch needs its topic.
      for (let attempt = 1; this.closed === undefined; attempt++) {
        try {
          await this.ensureDeadLetterTopics();
          this.startError = null;
          break;
        } catch (error) {
          this.startError = `creating the dead-letter topics failed: ${rootCauses(error).join('; ')}`;
          this.log.warn({ err: error, attempt }, 'could not create the dead-letter topics yet; trying again');
          await new Promise((resolve) => setTimeout(resolve, retryDelayMs(RECONNECT_BACKOFF, attempt)));
        }
      }
    }
    if (this.closed === undefined) await consumer.start();
  }

  private async ensureDeadLetterTopics(): Promise<void> {
    const replicationFactor = this.options.replicationFactor ?? this.options.config?.KAFKA_REPLICATION_FACTOR ?? 1;
    const configs = [...this.routes.values()]
      .filter((route) => route.deadLetter)
      .map((route) => deadLetterTopicConfig(route.topic, replicationFactor));
    const created = await createMissingTopics(this.connection, configs);
    if (created.length > 0) this.log.info({ topics: created }, 'created dead-letter topics');
  }

  private async shutdown(): Promise<void> {
    const consumer = this.consumer;
    const timeoutMs = this.options.shutdownTimeoutMs ?? 25_000;
    const drainDeadline = setTimeout(() => {
      this.drainExpired = true;
      if (this.batchesInFlight > 0) {
        this.log.warn({ timeoutMs }, 'shutdown: batch still running, leaving its remaining records for redelivery');
      }
    }, Math.max(100, timeoutMs * 0.8));
    drainDeadline.unref();
    try {
      // Deferred commits first: what the app made durable is committed while still in the group.
      if (consumer && this.deferredTopics().length > 0) {
        for (const topic of this.deferredTopics()) consumer.pause(topic);
        await raceTimeout(this.settleDeferred(), Math.max(100, timeoutMs * 0.8), 'deferred commits').catch((error: unknown) =>
          this.log.warn({ err: error }, 'shutdown: records not yet durable are left for redelivery'),
        );
      }
      // The consumer stops fetching, waits for the batches in flight (which commit what they
      // handled) and leaves the group. Bounded: uncommitted records are redelivered anyway.
      if (consumer) await raceTimeout(consumer.stop(), timeoutMs, 'the Kafka consumer stopping');
    } catch (error) {
      this.log.warn({ err: error }, 'error while stopping the Kafka consumer');
    } finally {
      clearTimeout(drainDeadline);
    }
    await this.started?.catch(() => undefined);
    await this.deadLetterProducer?.disconnect().catch(() => undefined);
    this.ledger.clear();
    this.log.info('Kafka consumer stopped');
  }

  private async settleDeferred(): Promise<void> {
    while (this.batchesInFlight > 0 && !this.drainExpired) await new Promise((resolve) => setTimeout(resolve, 20));
    await this.ledger.settle();
  }

  private deferredTopics(): string[] {
    return [...this.routes.values()].filter((route) => route.deferCommit).map((route) => route.topic);
  }

  // ---- the batch ---------------------------------------------------------------------------

  private async handleBatch(batch: PartitionBatch, signal: AbortSignal): Promise<void> {
    const route = this.routes.get(batch.topic);
    if (route === undefined) return;
    const { topic, partition, records } = batch;
    const key = partitionKey(topic, partition);
    const rewinds = this.rewound.get(key) ?? 0;
    const progress: PipelineProgress = { settled: 0, durables: [] };
    let failure: unknown;
    this.batchesInFlight++;
    try {
      await this.pipeline.run(route, batch, progress, signal);
    } catch (error) {
      failure = error;
    } finally {
      this.batchesInFlight--;
    }
    const settled = progress.settled;
    // Past the batch's last record when all of it is settled: aborted records and markers too.
    const next = settled === records.length ? batch.nextOffset : records[settled].offset;
    if (settled > 0) {
      const first = records[0].offset;
      const last = records[settled - 1].offset;
      if (route.deferCommit) {
        // A batch handed over before its partition was rewound is read again: not committed.
        if ((this.rewound.get(key) ?? 0) === rewinds) {
          this.ledger.add(topic, partition, { firstOffset: first, lastOffset: last, next, records: settled }, progress.durables);
        }
      } else {
        try {
          await this.consumer?.commit([{ topic, partition, offset: next }]);
          this.emitCommitted({ topic, partition, firstOffset: first, lastOffset: last, records: settled });
        } catch (commitError) {
          this.log.warn({ err: commitError, topic, partition }, 'could not commit the handled records; they may come again');
        }
      }
      this.lastBatchAt = Date.now();
      this.options.metrics?.kafkaConsumed(topic, settled);
    }
    if (failure === undefined) return;
    if (!(failure instanceof BatchInterruptedError)) {
      this.log.error(
        { err: failure, topic, partition, nextOffset: String(next) },
        'batch stopped before its end; the rest will be delivered again',
      );
    }
    throw new IncompleteBatchError(next, failure);
  }

  private emitCommitted(range: CommittedRange): void {
    if (this.events.listenerCount('batch') === 0) return;
    const committed: CommittedBatch = {
      topic: range.topic,
      partition: range.partition,
      firstOffset: range.firstOffset.toString(),
      lastOffset: range.lastOffset.toString(),
      records: range.records,
    };
    this.events.emit('batch', committed);
  }

  private describeFailure(error: unknown): { errorType: string; reason: string } {
    if (isNestGenericRpcError(error) && !this.warnedGenericErrors) {
      this.warnedGenericErrors = true;
      this.log.warn(
        'handler errors reach the consumer as "Internal server error": connect the server with ' +
          'connectKafkaConsumer() (or add KafkaHandlerErrorFilter) so the DLQ records the real reason',
      );
    }
    return describeHandlerFailure(error);
  }

  // ---- dead letters ------------------------------------------------------------------------

  /** Writes the original record, with its headers and the dlq.* ones, to `topic`; resolves once acknowledged. */
  private async writeDeadLetter(topic: string, record: FetchedRecord, failure: DeadLetterFailure): Promise<void> {
    this.deadLetterProducer ??= new TypedProducer(this.connection, {
      service: this.options.service,
      logger: this.log,
      lingerMs: 0,
    });
    await this.deadLetterProducer.sendRaw(topic, [
      { key: record.key, value: record.value, headers: deadLetterHeaders(record.headers, failure) },
    ]);
  }
}
