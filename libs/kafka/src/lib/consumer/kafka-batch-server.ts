import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CustomTransportStrategy, type MessageHandler, Server } from '@nestjs/microservices';
import {
  type Consumer,
  type ConsumerConfig,
  type EachBatchPayload,
  type IHeaders,
  type Kafka,
  type KafkaMessage,
  Partitioners,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import { isObservable, lastValueFrom } from 'rxjs';
import {
  dlqTopicOf,
  formatFieldErrors,
  HEADERS,
  topicSpec,
  type TopicSpec,
  validateEvent,
} from '@tributary/contracts';
import {
  createLogger,
  newCorrelationId,
  raceTimeout,
  runWithCorrelationId,
  type TributaryMetrics,
} from '@tributary/observability';
import { compressionTypeOf, createKafka, KAFKA_CLIENT_RETRY } from '../kafka-client';
import type { KafkaEnvConfig } from '../kafka-env';
import { type DeadLetterFailure, deadLetterHeaders, describeHandlerFailure, headerValue } from '../record-headers';
import { assertRetryPolicy, DEFAULT_RETRY_POLICY, retryDelayMs, type RetryPolicy } from '../retry-policy';
import { deadLetterTopicConfig, TopicAdmin } from '../topics';
import { KAFKA_BATCH_HANDLER, KAFKA_DEFERRED_COMMIT } from './batch-event-pattern';
import { BatchInterruptedError, DeadLetterUnavailableError, UnprocessableRecordError } from './consumer-errors';
import { isNestGenericRpcError } from './handler-error-filter';
import { KafkaBatchContext, KafkaRecordContext } from './kafka-record-context';

export interface KafkaBatchServerOptions {
  /** Service name, for logs and the client id. */
  readonly service: string;
  /** Consumer group; one per service (every instance of the service shares the partitions). */
  readonly groupId: string;
  /** The service's Kafka configuration; used to build the client unless `kafka` is given. */
  readonly config?: KafkaEnvConfig;
  /** A kafkajs client to use instead of building one from `config`. */
  readonly kafka?: Kafka;
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
  /** Extra kafkajs consumer settings (session timeout, fetch sizes). */
  readonly consumerConfig?: Omit<ConsumerConfig, 'groupId'>;
  /** Time `close()` gives the batch in flight before leaving the rest for redelivery; default 25 s. */
  readonly shutdownTimeoutMs?: number;
  readonly metrics?: TributaryMetrics;
  readonly logger?: Logger;
  /** Create missing `<topic>.dlq` topics of the subscribed topics on start; default true. */
  readonly ensureDeadLetterTopics?: boolean;
  /** Replication factor of created DLQ topics; default KAFKA_REPLICATION_FACTOR, else 1. */
  readonly replicationFactor?: number;
  /** Backoff between attempts to (re)start the consumer while the cluster is away. */
  readonly reconnect?: { readonly initialDelayMs?: number; readonly maxDelayMs?: number };
  /**
   * A consumer that neither fetched, heartbeated nor handled anything for this long (and has no
   * batch in flight) is replaced by a new one; default 90 s. It catches connections that died
   * without a reset (a network blackhole), which kafkajs would otherwise retry for minutes.
   */
  readonly stallTimeoutMs?: number;
}

export type KafkaConsumerStatus =
  | 'starting'
  | 'connected'
  | 'group-joined'
  | 'rebalancing'
  | 'disconnected'
  | 'crashed'
  | 'stopping'
  | 'stopped';

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
  /** Records between the last handled offset and the high watermark, summed over the assigned partitions seen so far. */
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

/** Partitions of some topic, as `server.on('partitions-revoked', ...)` lists them. */
export interface RevokedPartitions {
  readonly topic: string;
  readonly partitions: number[];
}

interface Route {
  readonly topic: string;
  readonly handler: MessageHandler;
  readonly batchMode: boolean;
  /** Offsets committed when the handler's `commitWhenDurable` promises resolve, not on return. */
  readonly deferCommit: boolean;
  readonly spec: TopicSpec | undefined;
  readonly validate: boolean;
  /** False for catalog topics without a DLQ: unprocessable records are logged and skipped. */
  readonly deadLetter: boolean;
  readonly deadLetterTopic: string;
}

/** Records of one batch of a deferred-commit handler, waiting to be durable and committed. */
interface DeferredRange {
  readonly firstOffset: string;
  readonly lastOffset: string;
  /** The offset to commit once this range and every earlier one of the partition is durable. */
  readonly next: string;
  readonly records: number;
  durable: boolean;
  readonly settled: Promise<unknown>;
}

/** The uncommitted ranges of one topic partition of a deferred-commit handler, oldest first. */
interface DeferredPartition {
  readonly topic: string;
  readonly partition: number;
  readonly ranges: DeferredRange[];
}

/** A record decoded and validated, ready for its handler. */
interface Decoded {
  readonly ok: true;
  readonly value: unknown;
}
interface Refused {
  readonly ok: false;
  readonly errorType: string;
  readonly reason: string;
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
   * consumer's to commit: the group rebalanced (kafkajs fetches every partition again from its
   * committed offset, so also those it kept), the consumer was replaced, or a durability promise
   * of the partition rejected. The app drops what it buffered of them and not yet made durable;
   * those records are delivered again.
   */
  'partitions-revoked': (revoked: RevokedPartitions[]) => void;
};

const EVENTS: readonly string[] = ['batch', 'status', 'dead-letter', 'partitions-revoked'] satisfies (keyof KafkaBatchServerEvents)[];

function exhaustedKeyOf(topic: string, partition: number, offset: string): string {
  return `${topic}|${partition}|${offset}`;
}

/** Errors that only mean the group is rebalancing: the batch stops and kafkajs rejoins. */
const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR']);

/**
 * The Kafka transport of every Tributary consumer: a Nest custom transport strategy that feeds the
 * `@EventPattern(topic)` (or {@link BatchEventPattern}) handlers of a service from a consumer group.
 *
 * - Offsets are committed only after the records' handlers succeeded (or the records are safely in
 *   the DLQ): a crash at any point redelivers, never skips.
 * - A failing record is retried with exponential backoff; after the last attempt its original key,
 *   value and headers go to `<topic>.dlq` with the dlq.* headers, and the partition moves on.
 * - A record that is not JSON or fails the catalog schema goes to the DLQ at once.
 * - If the DLQ itself cannot be written, the batch stops uncommitted and is delivered again.
 * - While the cluster is away the consumer keeps reconnecting with backoff; the app stays up and
 *   reports not ready through {@link health}.
 * - `close()` (SIGTERM with `enableShutdownHooks()`) stops fetching, finishes the batch in flight,
 *   commits and leaves the group.
 */
export class KafkaBatchServer
  extends Server<KafkaBatchServerEvents, KafkaConsumerStatus>
  implements CustomTransportStrategy
{
  private readonly kafka: Kafka;
  private readonly log: Logger;
  private readonly retryPolicy: RetryPolicy;
  private readonly validate: boolean;
  private readonly events = new EventEmitter();
  private readonly routes = new Map<string, Route>();
  private readonly stopSignal = new AbortController();
  /** Records that used up their attempts but could not reach the DLQ: on redelivery they go straight there. */
  private readonly exhausted = new Map<string, DeadLetterFailure>();
  private readonly lagByPartition = new Map<string, number>();
  /** Paused topics (all partitions, or some), re-applied to every new consumer and after each rebalance. */
  private readonly paused = new Map<string, Set<number> | 'all'>();
  /** Uncommitted records of deferred-commit handlers, by `topic|partition`. */
  private readonly deferred = new Map<string, DeferredPartition>();
  /** Rewinds in a row per deferred partition (reset once a range becomes durable): the backoff's attempt. */
  private readonly rewinds = new Map<string, number>();
  private deferredCommits: Promise<void> = Promise.resolve();
  private deferredCommitScheduled = false;
  private deferredCommitRetry?: NodeJS.Timeout;

  private consumer?: Consumer;
  private deadLetterProducer?: Producer;
  private deadLetterProducerConnected?: Promise<void>;
  private currentStatus: KafkaConsumerStatus = 'starting';
  private connected = false;
  private groupJoined = false;
  private assignment: Record<string, number[]> = {};
  private lastBatchAt: number | null = null;
  private lastError: string | null = null;
  private restartTimer?: NodeJS.Timeout;
  private restartAttempt = 0;
  private watchdog?: NodeJS.Timeout;
  private lastActivity = Date.now();
  private batchesInFlight = 0;
  private stopping = false;
  private drainExpired = false;
  private closed?: Promise<void>;
  private warnedGenericErrors = false;

  constructor(private readonly options: KafkaBatchServerOptions) {
    super();
    if (!options.kafka && !options.config) throw new Error('KafkaBatchServer needs `kafka` or `config`');
    const logger = options.logger ?? createLogger(options.service);
    this.log = logger.child({ component: 'kafka-consumer', groupId: options.groupId });
    this.kafka = options.kafka ?? createKafka(options.config as KafkaEnvConfig, options.service, logger);
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
      void this.start();
      this.startWatchdog();
    }
    callback();
  }

  /** Stops fetching, lets the batch in flight finish and commit, then leaves the group and disconnects. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  /** Listens to `batch` (committed), `status` changes or `dead-letter` writes. */
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
    return { kafka: this.kafka, consumer: this.consumer } as T;
  }

  /**
   * Stops fetching `topic` (or some of its partitions) until {@link resume}, e.g. while a
   * downstream store is down; records already fetched are still handled. Survives rebalances and
   * consumer restarts.
   */
  pause(topic: string, partitions?: readonly number[]): void {
    const current = this.paused.get(topic);
    if (partitions === undefined || current === 'all') this.paused.set(topic, 'all');
    else this.paused.set(topic, new Set([...(current ?? []), ...partitions]));
    this.applyPause(this.consumer);
  }

  resume(topic: string, partitions?: readonly number[]): void {
    const current = this.paused.get(topic);
    if (partitions === undefined || current === undefined) {
      this.paused.delete(topic);
    } else if (current !== 'all') {
      for (const partition of partitions) current.delete(partition);
      if (current.size === 0) this.paused.delete(topic);
    }
    try {
      this.consumer?.resume([{ topic, partitions: partitions ? [...partitions] : undefined }]);
    } catch {
      // not running yet: nothing is paused on the broker side either
    }
  }

  /** Topics (and partitions) currently paused. */
  pausedTopics(): { topic: string; partitions?: number[] }[] {
    return [...this.paused].map(([topic, partitions]) =>
      partitions === 'all' ? { topic } : { topic, partitions: [...partitions] },
    );
  }

  private applyPause(consumer: Consumer | undefined): void {
    if (consumer === undefined || this.paused.size === 0) return;
    try {
      consumer.pause(this.pausedTopics());
    } catch {
      // consumer#run has not started yet; GROUP_JOIN applies it
    }
  }

  // ---- health --------------------------------------------------------------------------------

  health(): KafkaConsumerHealth {
    let lag: number | null = null;
    for (const value of this.lagByPartition.values()) lag = (lag ?? 0) + value;
    return {
      groupId: this.options.groupId,
      topics: this.topics,
      status: this.currentStatus,
      connected: this.connected,
      groupJoined: this.groupJoined,
      assignment: this.assignment,
      lastBatchAt: this.lastBatchAt === null ? null : new Date(this.lastBatchAt).toISOString(),
      lag,
      lastError: this.lastError,
    };
  }

  /** True while the consumer is connected and a member of its group. */
  get ready(): boolean {
    return this.connected && this.groupJoined && !this.stopping;
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  private buildRoutes(): void {
    for (const [pattern, handler] of this.getHandlers()) {
      if (!/^[A-Za-z0-9._-]{1,249}$/.test(pattern)) {
        throw new Error(`@EventPattern("${pattern}") is not a Kafka topic name`);
      }
      const spec = this.options.topicSpecs?.find((candidate) => candidate.topic === pattern) ?? topicSpec(pattern);
      this.routes.set(pattern, {
        topic: pattern,
        handler,
        batchMode: handler.extras?.[KAFKA_BATCH_HANDLER] === true,
        deferCommit: handler.extras?.[KAFKA_BATCH_HANDLER] === true && handler.extras?.[KAFKA_DEFERRED_COMMIT] === true,
        spec,
        validate: this.validate && spec !== undefined,
        deadLetter: spec?.dlq ?? true,
        deadLetterTopic: dlqTopicOf(pattern),
      });
    }
  }

  private setStatus(status: KafkaConsumerStatus): void {
    if (status === this.currentStatus) return;
    this.currentStatus = status;
    this._status$.next(status);
    this.events.emit('status', status);
  }

  /** One attempt to build, connect and run a consumer; on failure, another after a backoff. */
  private async start(): Promise<void> {
    if (this.stopping) return;
    this.setStatus('starting');
    const consumer = this.createConsumer();
    this.consumer = consumer;
    // close() may come at any await: a consumer it did not see must not start running afterwards.
    const abandoned = async (): Promise<boolean> => {
      if (!this.stopping && this.consumer === consumer) return false;
      await consumer.disconnect().catch(() => undefined);
      return true;
    };
    try {
      await consumer.connect();
      if (await abandoned()) return;
      if (this.options.ensureDeadLetterTopics ?? true) await this.ensureDeadLetterTopics();
      if (await abandoned()) return;
      await consumer.subscribe({ topics: this.topics, fromBeginning: this.options.fromBeginning ?? true });
      if (await abandoned()) return;
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
        eachBatch: (payload) => this.handleBatch(payload),
      });
      this.restartAttempt = 0;
    } catch (error) {
      this.lastError = describeHandlerFailure(error).reason;
      this.log.warn({ err: error }, 'Kafka consumer could not start; retrying');
      await this.restartLater(consumer);
    }
  }

  private createConsumer(): Consumer {
    const sessionTimeout = this.options.config?.KAFKA_SESSION_TIMEOUT_MS ?? 30_000;
    const consumer: Consumer = this.kafka.consumer({
      sessionTimeout,
      rebalanceTimeout: 60_000,
      // Java's default ratio: a third of the session, so two heartbeats may go missing.
      heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
      // Idle fetches return after 1 s (Java: 500 ms): a stopping consumer waits for the one in flight.
      maxWaitTimeInMs: 1_000,
      allowAutoTopicCreation: false,
      ...this.options.consumerConfig,
      groupId: this.options.groupId,
      retry: {
        ...KAFKA_CLIENT_RETRY,
        ...this.options.consumerConfig?.retry,
        // kafkajs restarts a crashed consumer on its own; never one this server replaced or is closing.
        restartOnFailure: async () => this.consumer === consumer && !this.stopping,
      },
    });
    const { CONNECT, DISCONNECT, GROUP_JOIN, REBALANCING, CRASH, END_BATCH_PROCESS } = consumer.events;
    consumer.on(CONNECT, () => {
      if (this.consumer !== consumer) return;
      this.connected = true;
      this.setStatus('connected');
    });
    consumer.on(DISCONNECT, () => {
      if (this.consumer !== consumer) return;
      this.connected = false;
      this.groupJoined = false;
      this.assignment = {};
      this.lagByPartition.clear();
      this.setStatus(this.stopping ? 'stopping' : 'disconnected');
    });
    consumer.on(GROUP_JOIN, (event) => {
      if (this.consumer !== consumer) return;
      // Also after kafkajs restarted the consumer by itself, which emits no new CONNECT.
      this.connected = true;
      this.groupJoined = true;
      this.lastActivity = Date.now();
      this.lastError = null;
      this.restartAttempt = 0;
      this.assignment = event.payload.memberAssignment;
      this.lagByPartition.clear();
      // A new generation fetches every partition from its committed offset again.
      this.revokeDeferred([...this.deferred.keys()], 'the group rebalanced');
      this.applyPause(consumer);
      this.setStatus('group-joined');
      this.log.info({ assignment: event.payload.memberAssignment }, 'joined the consumer group');
    });
    consumer.on(REBALANCING, () => {
      if (this.consumer !== consumer) return;
      this.groupJoined = false;
      this.setStatus('rebalancing');
    });
    consumer.on(END_BATCH_PROCESS, (event) => {
      const { topic, partition, offsetLag } = event.payload;
      this.lagByPartition.set(`${topic}|${partition}`, Number(offsetLag));
      this.lastActivity = Date.now();
    });
    const { FETCH, HEARTBEAT, COMMIT_OFFSETS } = consumer.events;
    for (const activity of [FETCH, HEARTBEAT, COMMIT_OFFSETS]) {
      consumer.on(activity, () => {
        if (this.consumer === consumer) this.lastActivity = Date.now();
      });
    }
    consumer.on(CRASH, (event) => {
      if (this.consumer !== consumer) return;
      const { error, restart } = event.payload;
      this.groupJoined = false;
      this.lastError = describeHandlerFailure(error).reason;
      this.setStatus('crashed');
      if (this.stopping) return;
      if (restart) {
        this.log.warn({ err: error }, 'Kafka consumer crashed; kafkajs restarts it');
      } else {
        // kafkajs gives up on errors it deems permanent; a broker that comes back later must still find us.
        this.log.error({ err: error }, 'Kafka consumer crashed for good; starting a new one');
        void this.restartLater(consumer);
      }
    });
    return consumer;
  }

  private async restartLater(failed: Consumer): Promise<void> {
    if (this.consumer === failed) this.consumer = undefined;
    // A consumer on dead connections may never finish disconnecting; it stops fetching at once anyway.
    await raceTimeout(failed.disconnect(), 10_000, 'disconnecting the failed consumer').catch(() => undefined);
    if (this.stopping) return;
    const initial = this.options.reconnect?.initialDelayMs ?? 1_000;
    const max = this.options.reconnect?.maxDelayMs ?? 30_000;
    const delay = retryDelayMs(
      { maxAttempts: Number.MAX_SAFE_INTEGER, baseDelayMs: initial, maxDelayMs: max, jitter: 0.2 },
      ++this.restartAttempt,
    );
    this.setStatus('disconnected');
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.start(), delay);
    this.restartTimer.unref();
  }

  private startWatchdog(): void {
    const stallTimeoutMs = this.options.stallTimeoutMs ?? 90_000;
    this.watchdog = setInterval(() => {
      const consumer = this.consumer;
      if (consumer === undefined || this.stopping || this.batchesInFlight > 0) return;
      if (this.currentStatus !== 'group-joined') return;
      const silentMs = Date.now() - this.lastActivity;
      if (silentMs < stallTimeoutMs) return;
      this.log.error({ silentMs }, 'Kafka consumer stalled (no fetch or heartbeat); replacing it');
      this.lastError = `stalled: no fetch or heartbeat for ${silentMs} ms`;
      this.groupJoined = false;
      this.lastActivity = Date.now();
      void this.restartLater(consumer);
    }, Math.min(5_000, Math.max(100, stallTimeoutMs / 4)));
    this.watchdog.unref();
  }

  private async ensureDeadLetterTopics(): Promise<void> {
    const replicationFactor = this.options.replicationFactor ?? this.options.config?.KAFKA_REPLICATION_FACTOR ?? 1;
    const configs = [...this.routes.values()]
      .filter((route) => route.deadLetter)
      .map((route) => deadLetterTopicConfig(route.topic, replicationFactor));
    if (configs.length === 0) return;
    const admin = TopicAdmin.of(this.kafka, { replicationFactor, logger: this.log });
    try {
      await admin.ensureConfigs(configs);
    } finally {
      await admin.close();
    }
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.setStatus('stopping');
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdog);
    // Wake any record waiting out a retry delay: it is left uncommitted for the next owner.
    this.stopSignal.abort();
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
      if (this.consumer && this.deferredTopics().length > 0) {
        await raceTimeout(this.settleDeferred(this.consumer), Math.max(100, timeoutMs * 0.8), 'deferred commits').catch(
          (error: unknown) => this.log.warn({ err: error }, 'shutdown: records not yet durable are left for redelivery'),
        );
      }
      // kafkajs stops fetching, waits for the batch in flight (which commits what it handled) and
      // leaves the group. Bounded: on dead connections it could wait forever, and the uncommitted
      // records are redelivered anyway.
      if (this.consumer) await raceTimeout(this.consumer.disconnect(), timeoutMs, 'the Kafka consumer disconnecting');
    } catch (error) {
      this.log.warn({ err: error }, 'error while disconnecting the Kafka consumer');
    } finally {
      clearTimeout(drainDeadline);
    }
    if (this.deadLetterProducerConnected) await this.deadLetterProducer?.disconnect().catch(() => undefined);
    clearTimeout(this.deferredCommitRetry);
    this.deferred.clear();
    this.consumer = undefined;
    this.connected = false;
    this.groupJoined = false;
    this.setStatus('stopped');
    this.log.info('Kafka consumer stopped');
  }

  // ---- the batch ---------------------------------------------------------------------------

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const route = this.routes.get(batch.topic);
    if (route === undefined || batch.messages.length === 0) return;

    // Offsets are resolved lazily: only the last record done matters, and only at commit time.
    let lastDone: string | undefined;
    let handled = 0;
    const done = (offset: string, count = 1): void => {
      lastDone = offset;
      handled += count;
    };

    let failure: unknown;
    const durables: Promise<unknown>[] | undefined = route.deferCommit ? [] : undefined;
    this.batchesInFlight++;
    try {
      if (route.batchMode) await this.handleWholeBatch(route, payload, done, durables);
      else await this.handleRecords(route, payload, done);
    } catch (error) {
      failure = error;
    } finally {
      this.batchesInFlight--;
      this.lastActivity = Date.now();
    }

    if (lastDone !== undefined) payload.resolveOffset(lastDone);
    if (durables !== undefined) {
      // resolved (so the fetch moves on) but committed only once the app says the records are durable
      if (lastDone !== undefined) this.deferRange(batch.topic, batch.partition, batch.messages[0].offset, lastDone, handled, durables);
      if (handled > 0) {
        this.lastBatchAt = Date.now();
        this.options.metrics?.kafkaConsumed(batch.topic, handled);
      }
    } else {
      await this.commitHandled(payload, failure);
    }
    if (handled > 0 && durables === undefined) {
      this.lastBatchAt = Date.now();
      this.options.metrics?.kafkaConsumed(batch.topic, handled);
      if (this.events.listenerCount('batch') > 0) {
        const committed: CommittedBatch = {
          topic: batch.topic,
          partition: batch.partition,
          firstOffset: batch.messages[0].offset,
          lastOffset: lastDone ?? batch.messages[0].offset,
          records: handled,
        };
        this.events.emit('batch', committed);
      }
    }

    if (failure instanceof BatchInterruptedError) return; // shutting down: the rest is redelivered
    if (failure !== undefined) {
      const rebalancing = REBALANCE_ERRORS.has((failure as { type?: string }).type ?? '');
      this.log[rebalancing ? 'info' : 'error'](
        { err: failure, topic: batch.topic, partition: batch.partition, committedUpTo: lastDone ?? null },
        'batch stopped before its end; the rest will be delivered again',
      );
      throw failure;
    }
  }

  /** Commits what the batch handled (and nothing of deferred-commit topics, which commit themselves). */
  private async commitHandled(payload: EachBatchPayload, failure: unknown): Promise<void> {
    let offsets = payload.uncommittedOffsets();
    const deferredTopics = this.deferredTopics();
    if (deferredTopics.length > 0) offsets = { topics: offsets.topics.filter((t) => !deferredTopics.includes(t.topic)) };
    try {
      await payload.commitOffsetsIfNecessary(offsets);
    } catch (commitError) {
      if (failure === undefined) throw commitError;
      this.log.warn({ err: commitError }, 'could not commit the records handled before the failure');
    }
  }

  // ---- deferred commits ----------------------------------------------------------------------

  private deferredTopics(): string[] {
    return [...this.routes.values()].filter((route) => route.deferCommit).map((route) => route.topic);
  }

  /** Records `[firstOffset, lastOffset]` of a deferred-commit batch: committed once `durables` resolve. */
  private deferRange(
    topic: string,
    partition: number,
    firstOffset: string,
    lastOffset: string,
    records: number,
    durables: Promise<unknown>[],
  ): void {
    const key = `${topic}|${partition}`;
    let state = this.deferred.get(key);
    if (state === undefined) {
      state = { topic, partition, ranges: [] };
      this.deferred.set(key, state);
    }
    const owner = state;
    const settled = Promise.all(durables);
    const range: DeferredRange = {
      firstOffset,
      lastOffset,
      next: (BigInt(lastOffset) + 1n).toString(),
      records,
      durable: false,
      settled: settled.catch(() => undefined),
    };
    owner.ranges.push(range);
    settled.then(
      () => {
        if (this.deferred.get(key) !== owner) return; // revoked meanwhile: the records come again
        this.rewinds.delete(key);
        range.durable = true;
        this.scheduleDeferredCommit();
      },
      (error: unknown) => {
        if (this.deferred.get(key) !== owner) return;
        this.log.error(
          { err: error, topic, partition, firstOffset: owner.ranges[0]?.firstOffset },
          'records were not made durable; fetching the partition again from its first uncommitted record',
        );
        this.rewind(owner);
      },
    );
  }

  /** Forgets the partition's uncommitted records, tells the app, and fetches them again. */
  private rewind(state: DeferredPartition): void {
    const from = state.ranges[0]?.firstOffset;
    const key = `${state.topic}|${state.partition}`;
    this.revokeDeferred([key], 'records were not made durable');
    if (from === undefined || this.stopping) return;
    // The partition waits with the retry policy's backoff before it is read again, so records that
    // keep failing to be made durable are retried at a bounded pace rather than in a tight loop.
    const attempt = (this.rewinds.get(key) ?? 0) + 1;
    this.rewinds.set(key, attempt);
    const partitions = [{ topic: state.topic, partitions: [state.partition] }];
    try {
      this.consumer?.pause(partitions);
    } catch (error) {
      this.log.warn({ err: error, topic: state.topic, partition: state.partition }, 'could not pause the partition before reading it again');
    }
    const timer = setTimeout(() => {
      if (this.stopping) return;
      try {
        this.consumer?.seek({ topic: state.topic, partition: state.partition, offset: from });
        // A partition the app paused meanwhile (a store down) stays paused until the app resumes it.
        const paused = this.paused.get(state.topic);
        if (paused !== 'all' && !paused?.has(state.partition)) this.consumer?.resume(partitions);
      } catch (error) {
        this.log.warn({ err: error, topic: state.topic, partition: state.partition }, 'could not seek back; a restart redelivers');
      }
    }, retryDelayMs(this.retryPolicy, attempt));
    timer.unref();
  }

  /** Drops the uncommitted ranges of `keys` and emits `partitions-revoked` for them. */
  private revokeDeferred(keys: string[], why: string): void {
    const byTopic = new Map<string, number[]>();
    for (const key of keys) {
      const state = this.deferred.get(key);
      if (state === undefined) continue;
      this.deferred.delete(key);
      if (state.ranges.length === 0) continue;
      const partitions = byTopic.get(state.topic);
      if (partitions) partitions.push(state.partition);
      else byTopic.set(state.topic, [state.partition]);
    }
    if (byTopic.size === 0) return;
    const revoked = [...byTopic].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }));
    this.log.info({ revoked, why }, 'uncommitted records of deferred-commit partitions will be delivered again');
    this.events.emit('partitions-revoked', revoked);
  }

  private scheduleDeferredCommit(): void {
    if (this.deferredCommitScheduled) return;
    this.deferredCommitScheduled = true;
    // one commit request for everything that became durable in the same turn
    setImmediate(() => {
      this.deferredCommitScheduled = false;
      this.deferredCommits = this.deferredCommits.then(() => this.commitDurable());
    });
  }

  /**
   * Commits, per partition, up to the end of the longest run of durable ranges from the oldest:
   * never past a record the app has not declared durable.
   */
  private async commitDurable(): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    const commits: { state: DeferredPartition; count: number }[] = [];
    for (const state of this.deferred.values()) {
      let count = 0;
      while (count < state.ranges.length && state.ranges[count]?.durable) count++;
      if (count > 0) commits.push({ state, count });
    }
    if (commits.length === 0) return;
    const offsets = commits.map(({ state, count }) => ({
      topic: state.topic,
      partition: state.partition,
      offset: (state.ranges[count - 1] as DeferredRange).next,
    }));
    try {
      await consumer.commitOffsets(offsets);
    } catch (error) {
      const rebalancing = REBALANCE_ERRORS.has((error as { type?: string }).type ?? '');
      this.log[rebalancing ? 'info' : 'warn']({ err: error, offsets }, 'could not commit durable offsets; trying again');
      clearTimeout(this.deferredCommitRetry);
      this.deferredCommitRetry = setTimeout(() => this.scheduleDeferredCommit(), 1_000);
      this.deferredCommitRetry.unref();
      return;
    }
    for (const { state, count } of commits) {
      // revoked while committing: its ranges are gone with it (committing them was still right: they are durable)
      if (this.deferred.get(`${state.topic}|${state.partition}`) !== state) continue;
      for (const range of state.ranges.splice(0, count)) {
        if (this.events.listenerCount('batch') > 0) {
          const committed: CommittedBatch = {
            topic: state.topic,
            partition: state.partition,
            firstOffset: range.firstOffset,
            lastOffset: range.lastOffset,
            records: range.records,
          };
          this.events.emit('batch', committed);
        }
      }
    }
  }

  /**
   * On close: stops fetching the deferred-commit topics, waits for the batches in flight and for
   * the app to settle what it holds, then commits what is durable.
   */
  private async settleDeferred(consumer: Consumer): Promise<void> {
    try {
      consumer.pause(this.deferredTopics().map((topic) => ({ topic })));
    } catch {
      // not running: nothing is fetched anyway
    }
    while (this.batchesInFlight > 0 && !this.drainExpired) await sleep(20);
    const pending = [...this.deferred.values()].flatMap((state) => state.ranges.map((range) => range.settled));
    await Promise.all(pending);
    await new Promise((resolve) => setImmediate(resolve));
    await this.deferredCommits;
    await this.commitDurable();
  }

  private async handleRecords(
    route: Route,
    { batch, heartbeat, isStale }: EachBatchPayload,
    done: (offset: string) => void,
  ): Promise<void> {
    const { messages, partition } = batch;
    let lastHeartbeat = Date.now();
    for (let index = 0; index < messages.length; index++) {
      if (this.drainExpired) throw new BatchInterruptedError('shutdown timeout reached');
      if (isStale()) return; // someone seeked this partition: the fetch will start from the new offset
      const message = messages[index];
      await this.handleRecord(route, partition, message, heartbeat);
      done(message.offset);
      const now = Date.now();
      if (now - lastHeartbeat >= 1_000) {
        lastHeartbeat = now;
        await heartbeat();
      }
    }
  }

  /** Decodes (and validates) a record's value, or says why it cannot be handled. */
  private decode(route: Route, message: KafkaMessage): Decoded | Refused {
    if (message.value === null) return { ok: true, value: null }; // a tombstone of a compacted topic
    let value: unknown;
    try {
      value = JSON.parse(message.value.toString('utf8'));
    } catch (error) {
      return { ok: false, errorType: 'DeserializationError', reason: `value is not JSON: ${(error as Error).message}` };
    }
    if (route.validate && route.spec !== undefined) {
      const version = headerValue(message.headers as IHeaders | undefined, HEADERS.schemaVersion);
      // A newer writer may add optional fields this build does not know yet.
      const newer = version !== undefined && Number(version) > route.spec.version;
      const result = validateEvent(route.spec, value, { allowUnknownFields: newer });
      if (!result.ok) {
        return { ok: false, errorType: 'ValidationError', reason: formatFieldErrors(result.errors) };
      }
    }
    return { ok: true, value };
  }

  private async handleRecord(
    route: Route,
    partition: number,
    message: KafkaMessage,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const { topic } = route;
    if (this.exhausted.size > 0) {
      const key = exhaustedKeyOf(topic, partition, message.offset);
      const alreadyExhausted = this.exhausted.get(key);
      if (alreadyExhausted !== undefined) {
        await this.deadLetter(route, message, alreadyExhausted);
        this.exhausted.delete(key);
        return;
      }
    }

    const decoded = this.decode(route, message);
    if (!decoded.ok) {
      this.options.metrics?.kafkaFailed(topic);
      await this.deadLetter(route, message, this.failureOf(route, partition, message, decoded, 0));
      return;
    }

    const context = new KafkaRecordContext(topic, partition, message, this.options.groupId);
    const correlationId = context.header(HEADERS.correlationId) || newCorrelationId();
    context.useCorrelationId(correlationId);
    const timer = this.options.metrics?.handlerSeconds(topic);
    for (let attempt = 1; ; attempt++) {
      context.attempt = attempt;
      const started = timer ? performance.now() : 0;
      try {
        await runWithCorrelationId(correlationId, () => this.invoke(route.handler, decoded.value, context));
        timer?.observe((performance.now() - started) / 1000);
        return;
      } catch (error) {
        this.options.metrics?.kafkaFailed(topic);
        const described = this.describeFailure(error);
        const giveUp = error instanceof UnprocessableRecordError || attempt >= this.retryPolicy.maxAttempts;
        if (giveUp) {
          const failure = this.failureOf(route, partition, message, described, attempt);
          try {
            await this.deadLetter(route, message, failure);
          } catch (deadLetterError) {
            this.rememberExhausted(exhaustedKeyOf(topic, partition, message.offset), failure);
            throw deadLetterError;
          }
          return;
        }
        const delay = retryDelayMs(this.retryPolicy, attempt);
        this.log.warn(
          { topic, partition, offset: message.offset, attempt, retryInMs: delay, correlationId, err: error },
          'handler failed; retrying',
        );
        await this.waitBeforeRetry(delay, heartbeat);
      }
    }
  }

  private async handleWholeBatch(
    route: Route,
    { batch, heartbeat }: EachBatchPayload,
    done: (offset: string, count?: number) => void,
    durables: Promise<unknown>[] | undefined,
  ): Promise<void> {
    const { partition, messages } = batch;
    // Records that cannot be decoded are settled first; the handler sees the rest, in order.
    const values: unknown[] = [];
    const kept: KafkaMessage[] = [];
    for (const message of messages) {
      if (this.drainExpired) throw new BatchInterruptedError('shutdown timeout reached');
      const decoded = this.decode(route, message);
      if (decoded.ok) {
        values.push(decoded.value);
        kept.push(message);
      } else {
        this.options.metrics?.kafkaFailed(route.topic);
        await this.deadLetter(route, message, this.failureOf(route, partition, message, decoded, 0));
      }
    }
    const refused = messages.length - kept.length;
    if (kept.length === 0) {
      done(messages[messages.length - 1].offset, refused);
      return;
    }
    const where = { highWatermark: batch.highWatermark, durables };
    await this.handleSegment(route, partition, values, kept, 0, kept.length, true, heartbeat, (offset, count) =>
      done(offset, count), where,
    );
    // Every record is settled: the batch's own last offset covers trailing refused records too.
    done(messages[messages.length - 1].offset, refused);
  }

  /**
   * Runs the batch handler on `values[start, end)`. The whole batch gets the full retry policy;
   * if it still fails it is split in halves, tried once each, down to single records, which get the
   * full policy again and then the DLQ. A poison record costs a few attempts, not the whole batch.
   */
  private async handleSegment(
    route: Route,
    partition: number,
    values: unknown[],
    messages: KafkaMessage[],
    start: number,
    end: number,
    fullRetries: boolean,
    heartbeat: () => Promise<void>,
    done: (offset: string, count: number) => void,
    where: { highWatermark: string; durables: Promise<unknown>[] | undefined },
  ): Promise<void> {
    const size = end - start;
    const attempts = fullRetries || size === 1 ? this.retryPolicy.maxAttempts : 1;
    const segmentMessages = start === 0 && end === messages.length ? messages : messages.slice(start, end);
    const segmentValues = start === 0 && end === values.length ? values : values.slice(start, end);
    const context = new KafkaBatchContext(route.topic, partition, segmentMessages, this.options.groupId, where.highWatermark);
    // promises of an attempt that threw are dropped: its records are handed over again
    const attemptDurables: Promise<unknown>[] = [];
    if (where.durables !== undefined) context.collectDurable(attemptDurables);
    const timer = this.options.metrics?.handlerSeconds(route.topic);
    for (let attempt = 1; ; attempt++) {
      if (this.drainExpired) throw new BatchInterruptedError('shutdown timeout reached');
      context.attempt = attempt;
      attemptDurables.length = 0;
      const started = timer ? performance.now() : 0;
      try {
        await runWithCorrelationId(undefined, () => this.invoke(route.handler, segmentValues, context));
        timer?.observe((performance.now() - started) / 1000);
        where.durables?.push(...attemptDurables);
        done(messages[end - 1].offset, size);
        return;
      } catch (error) {
        this.options.metrics?.kafkaFailed(route.topic, size);
        const unprocessable = error instanceof UnprocessableRecordError;
        if (size === 1 && (unprocessable || attempt >= attempts)) {
          const failure = this.failureOf(route, partition, messages[start], this.describeFailure(error), attempt);
          await this.deadLetter(route, messages[start], failure);
          done(messages[start].offset, 1);
          return;
        }
        if (unprocessable || attempt >= attempts) {
          const middle = start + Math.floor(size / 2);
          this.log.warn(
            { topic: route.topic, partition, firstOffset: messages[start].offset, records: size, err: error },
            'batch handler failed; splitting the batch to find the failing records',
          );
          await this.handleSegment(route, partition, values, messages, start, middle, false, heartbeat, done, where);
          await heartbeat();
          await this.handleSegment(route, partition, values, messages, middle, end, false, heartbeat, done, where);
          return;
        }
        const delay = retryDelayMs(this.retryPolicy, attempt);
        this.log.warn(
          { topic: route.topic, partition, records: size, attempt, retryInMs: delay, err: error },
          'batch handler failed; retrying',
        );
        await this.waitBeforeRetry(delay, heartbeat);
      }
    }
  }

  private async invoke(handler: MessageHandler, data: unknown, context: unknown): Promise<void> {
    const result: unknown = await handler(data, context);
    if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
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

  private failureOf(
    route: Route,
    partition: number,
    message: KafkaMessage,
    described: { errorType: string; reason: string },
    attempts: number,
  ): DeadLetterFailure {
    return {
      reason: described.reason,
      errorType: described.errorType,
      topic: route.topic,
      partition,
      offset: message.offset,
      attempts,
      consumerGroup: this.options.groupId,
      failedAt: new Date(),
    };
  }

  private rememberExhausted(key: string, failure: DeadLetterFailure): void {
    if (this.exhausted.size >= 10_000) this.exhausted.clear();
    this.exhausted.set(key, failure);
  }

  /** Waits `ms` while keeping the group membership alive; shutting down cuts it short. */
  private async waitBeforeRetry(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    let remaining = ms;
    while (remaining > 0) {
      if (this.stopping) throw new BatchInterruptedError('shutting down during a retry delay');
      const step = Math.min(remaining, 1_000);
      try {
        await sleep(step, undefined, { signal: this.stopSignal.signal });
      } catch {
        throw new BatchInterruptedError('shutting down during a retry delay');
      }
      remaining -= step;
      await heartbeat();
    }
  }

  // ---- dead letters ------------------------------------------------------------------------

  /** Writes the original record to `<topic>.dlq` and waits for the brokers' acknowledgement. */
  private async deadLetter(route: Route, message: KafkaMessage, failure: DeadLetterFailure): Promise<void> {
    const logFields = {
      topic: route.topic,
      partition: failure.partition,
      offset: failure.offset,
      attempts: failure.attempts,
      errorType: failure.errorType,
      reason: failure.reason,
      correlationId: headerValue(message.headers as IHeaders | undefined, HEADERS.correlationId),
    };
    if (!route.deadLetter) {
      this.log.error(logFields, 'record skipped: its topic has no dead-letter topic in the catalog');
      return;
    }
    try {
      const producer = await this.deadLetterProducerReady();
      await producer.send({
        topic: route.deadLetterTopic,
        acks: -1,
        compression: compressionTypeOf(topicSpec(route.deadLetterTopic)?.compression),
        messages: [
          {
            key: message.key,
            value: message.value,
            headers: deadLetterHeaders(message.headers as IHeaders | undefined, failure),
          },
        ],
      });
    } catch (error) {
      throw new DeadLetterUnavailableError(route.deadLetterTopic, error);
    }
    this.options.metrics?.kafkaDeadLettered(route.topic);
    this.log.warn({ ...logFields, deadLetterTopic: route.deadLetterTopic }, 'record sent to the dead-letter topic');
    if (this.events.listenerCount('dead-letter') > 0) this.events.emit('dead-letter', failure);
  }

  private async deadLetterProducerReady(): Promise<Producer> {
    this.deadLetterProducer ??= this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
      retry: { ...KAFKA_CLIENT_RETRY },
    });
    const producer = this.deadLetterProducer;
    this.deadLetterProducerConnected ??= producer.connect().catch((error: unknown) => {
      this.deadLetterProducerConnected = undefined;
      throw error;
    });
    await this.deadLetterProducerConnected;
    return producer;
  }
}

