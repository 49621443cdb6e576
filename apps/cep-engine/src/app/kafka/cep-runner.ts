import { randomUUID } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { type Alert, CATALOG, type TopicSpec, topicSpec } from '@tributary/contracts';
import { CoPartitionAssigner, deadLetterTopicConfig, TopicAdmin, topicConfigOf } from '@tributary/kafka';
import type { CepTopics } from '../engine/cep-topics';
import { PartitionProcessor } from '../engine/partition-processor';
import type { CepMetrics } from '../observability/cep-metrics';
import type { RecentAlerts } from '../observability/recent-alerts';
import type { RuleSpec } from '../rules/rule-api';
import type { RuleBook } from '../rules/rule-book';

import { StateTopicsReader } from './state-topics-reader';
import { CHECKPOINT_PARTITIONS, isFenced, TransactionalWriter, validOutputs } from './transactional-writer';

export interface CepRunnerOptions {
  readonly group: string;
  /** `service/instance`. */
  readonly writer: string;
  readonly topics: CepTopics;
  readonly commitIntervalMs: number;
  readonly idlePartitionMs: number;
  readonly idleKeyTtlNs: number;
  readonly transactionTimeoutMs: number;
  readonly replicationFactor: number;
  /** Where a group without committed offsets starts reading an input topic. */
  readonly startFrom: 'earliest' | 'latest';
  /** Rules written to the rules topic when it holds none (null: do not seed). */
  readonly seedRules: readonly RuleSpec[] | null;
  readonly logger: Logger;
  readonly metrics?: CepMetrics;
  readonly recent?: RecentAlerts;
}

/** The partition number N this instance owns: its processor (state of every rule) and its transactional producer. */
interface PartitionTask {
  readonly partition: number;
  readonly processor: PartitionProcessor;
  readonly writer: TransactionalWriter;
  /** The transaction in flight, if any. */
  committing?: Promise<void>;
  /** More output arrived while a transaction was in flight. */
  again: boolean;
  /** No more commits: released, or its state ran ahead of a failed transaction and must not be committed. */
  closed: boolean;
  releasing: boolean;
}

export type CepRunnerState = 'starting' | 'running' | 'idle' | 'recovering' | 'stopped';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The service's Kafka loop. Exactly once, read-process-write:
 *
 * - a consumer group over the enabled rules' input topics, read committed, assigned by partition number
 *   (member owning N gets partition N of every input);
 * - per partition number N a `PartitionProcessor` (one engine per rule) and a transactional producer
 *   `<group>.p<N>`; taking N fences the previous owner, writes a claim and loads N's last checkpoint;
 * - a transaction per commit carries the alerts, side outputs, dead letters, N's checkpoint (engine state
 *   and input offsets) and the group offsets. After a crash the next owner restores the checkpoint and
 *   skips records below its offsets: nothing is lost, no alert is written twice.
 */
export class CepRunner {
  private readonly tasks = new Map<number, PartitionTask>();
  private readonly opening = new Map<number, Promise<PartitionTask>>();
  private consumer: Consumer | undefined;
  private reader: StateTopicsReader | undefined;
  private subscribed: string[] = [];
  /** Partition numbers the group assigned to this instance in the current generation. */
  private assigned: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private restarting: Promise<void> | undefined;
  private stopping = false;
  private generation = 0;
  state: CepRunnerState = 'starting';
  lastError: string | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly rules: RuleBook,
    private readonly options: CepRunnerOptions,
  ) {}

  /** Starts in the background, retrying with backoff while Kafka is away. */
  start(): void {
    void this.startWithRetry();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.restarting?.catch(() => undefined);
    await this.stopConsumer(true);
    await this.reader?.stop();
    this.state = 'stopped';
  }

  /** Processors of the partitions this instance owns (for GET /patterns and the metrics). */
  processors(): PartitionProcessor[] {
    return [...this.tasks.values()].map((task) => task.processor);
  }

  ownedPartitions(): number[] {
    return [...this.assigned];
  }

  private async startWithRetry(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.startOnce();
        return;
      } catch (error) {
        this.lastError = error instanceof Error ? error.message : String(error);
        const delay = Math.min(30_000, 500 * 2 ** attempt);
        this.options.logger.warn({ err: error, retryInMs: delay }, 'cep-engine could not start; retrying');
        await this.reader?.stop();
        this.reader = undefined;
        await sleep(delay);
      }
    }
  }

  private async startOnce(): Promise<void> {
    const { topics, logger } = this.options;
    await this.ensureTopics([]);
    this.reader = new StateTopicsReader(this.kafka, topics, this.options.group, this.rules, logger.child({ component: 'state-reader' }));
    await this.reader.start();
    await this.reader.rulesLoaded(60_000);
    if (this.rules.size === 0 && this.options.seedRules && this.options.seedRules.length > 0) {
      await this.seed(this.options.seedRules);
    }
    this.rules.onChange((changed) => this.onRulesChanged(changed));
    this.timer = setInterval(() => this.tick(), this.options.commitIntervalMs);
    this.timer.unref();
    await this.restartConsumer('start');
  }

  /** Writes the default rules (only when the rules topic is empty). */
  private async seed(specs: readonly RuleSpec[]): Promise<void> {
    const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const spec: TopicSpec = { ...CATALOG['cep.rules'], topic: this.options.topics.rules };
      const ts = (BigInt(Date.now()) * 1_000_000n).toString();
      await producer.send({
        topic: spec.topic,
        acks: -1,
        messages: specs.map((rule) => ({
          key: rule.id,
          value: JSON.stringify({ ...rule, ts, updatedBy: `${this.options.writer} seed` }),
          headers: { 'schema.name': 'CepRule', 'schema.version': String(spec.version), 'event.time': ts, producer: this.options.writer },
        })),
      });
    } finally {
      await producer.disconnect();
    }
    await this.reader?.rulesLoaded(60_000);
    this.options.logger.info({ rules: specs.map((rule) => rule.id) }, 'seeded the rules topic with the built-in rules');
  }

  private async ensureTopics(inputs: readonly string[]): Promise<void> {
    const { topics, replicationFactor } = this.options;
    const admin = TopicAdmin.of(this.kafka, { replicationFactor, logger: this.options.logger });
    const renamed = (name: string): TopicSpec => ({ ...(topicSpec(name) as TopicSpec), topic: topics.onCluster(name) });
    try {
      await admin.ensureConfigs([
        topicConfigOf(renamed('cep.alerts'), replicationFactor),
        topicConfigOf(renamed('cep.side-outputs'), replicationFactor),
        topicConfigOf(renamed('cep.rules'), replicationFactor),
        {
          topic: topics.checkpoints,
          numPartitions: CHECKPOINT_PARTITIONS,
          replicationFactor,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'compression.type', value: 'zstd' },
            { name: 'max.message.bytes', value: String(64 * 1024 * 1024) },
            { name: 'min.cleanable.dirty.ratio', value: '0.1' },
            { name: 'segment.ms', value: String(600_000) },
          ],
        },
        ...inputs.map((name) => topicConfigOf(renamed(name), replicationFactor)),
        ...inputs.map((name) => deadLetterTopicConfig(topics.onCluster(name), replicationFactor)),
      ]);
    } finally {
      await admin.close();
    }
  }

  private onRulesChanged(changed: readonly string[]): void {
    const enabled = this.rules.enabledRules();
    for (const task of this.tasks.values()) task.processor.setRules(enabled);
    this.options.logger.info({ changed, enabled: enabled.map((rule) => `${rule.spec.id}@${rule.spec.version}`) }, 'rules changed');
    const inputs = this.rules.inputs().map((name) => this.options.topics.onCluster(name));
    if (inputs.join(',') !== this.subscribed.join(',') && this.state !== 'starting') void this.restartConsumer('the rules read other topics');
  }

  /** (Re)starts the group consumer on the enabled rules' inputs, committing and closing every task first. */
  private restartConsumer(reason: string): Promise<void> {
    const previous = this.restarting ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        if (this.stopping) return;
        this.state = this.state === 'starting' ? 'starting' : 'recovering';
        this.options.logger.info({ reason }, 'starting the input consumer');
        await this.stopConsumer(true);
        for (let attempt = 0; !this.stopping; attempt++) {
          try {
            await this.runConsumer();
            return;
          } catch (error) {
            this.lastError = error instanceof Error ? error.message : String(error);
            const delay = Math.min(30_000, 500 * 2 ** attempt);
            this.options.logger.warn({ err: error, retryInMs: delay }, 'input consumer could not start; retrying');
            await this.stopConsumer(false);
            await sleep(delay);
          }
        }
      });
    this.restarting = next.finally(() => {
      if (this.restarting === next) this.restarting = undefined;
    });
    return next;
  }

  private async runConsumer(): Promise<void> {
    const inputs = this.rules.inputs();
    this.subscribed = inputs.map((name) => this.options.topics.onCluster(name));
    if (inputs.length === 0) {
      this.state = 'idle';
      this.options.logger.warn('no enabled rule: nothing to consume');
      return;
    }
    await this.ensureTopics(inputs);
    const generation = ++this.generation;
    const consumer = this.kafka.consumer({
      groupId: this.options.group,
      partitionAssigners: [CoPartitionAssigner],
      readUncommitted: false,
      sessionTimeout: 10_000,
      rebalanceTimeout: 20_000,
      heartbeatInterval: 1_000,
      maxWaitTimeInMs: 100,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const owned = new Set(Object.values(payload.memberAssignment).flat());
      this.assigned = [...owned].sort((a, b) => a - b);
      this.options.logger.info({ partitions: this.assigned }, 'partitions assigned');
      for (const partition of [...this.tasks.keys()]) if (!owned.has(partition)) void this.closeTask(partition, 'revoked');
      // Take the new partitions over now (fence the previous owner, load the checkpoint), not at their first record.
      for (const partition of this.assigned) {
        this.task(partition).catch((error: unknown) => this.options.logger.warn({ err: error, partition }, 'could not take the partition over yet'));
      }
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (generation !== this.generation || this.stopping) return;
      this.lastError = payload.error.message;
      if (!payload.restart) void this.restartConsumer(`consumer crashed: ${payload.error.message}`);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.subscribed, fromBeginning: this.options.startFrom === 'earliest' });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.onBatch(payload, generation),
    });
    this.state = 'running';
    this.lastError = undefined;
  }

  private async onBatch({ batch, heartbeat, isRunning, isStale }: EachBatchPayload, generation: number): Promise<void> {
    if (generation !== this.generation) return;
    const task = await this.task(batch.partition);
    if (task.closed || generation !== this.generation) return;
    const processor = task.processor;
    let applied = 0;
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      const result = processor.ingest({
        topic: batch.topic,
        partition: batch.partition,
        offset: message.offset,
        key: message.key,
        value: message.value,
        headers: message.headers,
      });
      if (result !== 'skipped') applied++;
    }
    if (applied > 0) this.options.metrics?.consumed(batch.topic, applied);
    processor.collect();
    if (processor.hasOutput) this.commit(task);
    await heartbeat();
  }

  /** The task of a partition number, opening it (fence, claim, restore) on first use. */
  private async task(partition: number): Promise<PartitionTask> {
    const open = this.tasks.get(partition);
    if (open) return open;
    let opening = this.opening.get(partition);
    if (!opening) {
      opening = this.openTask(partition).finally(() => this.opening.delete(partition));
      this.opening.set(partition, opening);
    }
    return opening;
  }

  private async openTask(partition: number): Promise<PartitionTask> {
    const { topics, group, writer } = this.options;
    const reader = this.reader;
    const generation = this.generation;
    if (!reader) throw new Error('state reader not started');
    const transactional = new TransactionalWriter(this.kafka, { group, partition, topics, writer, transactionTimeoutMs: this.options.transactionTimeoutMs });
    const nonce = randomUUID();
    await transactional.claim(nonce);
    await reader.waitForClaim(partition, nonce, 60_000);
    const checkpoint = reader.checkpoint(partition);
    const processor = new PartitionProcessor(
      { group, partition, topics, writer, idlePartitionMs: this.options.idlePartitionMs, idleKeyTtlNs: this.options.idleKeyTtlNs },
      this.rules.enabledRules(),
      checkpoint,
    );
    const task: PartitionTask = { partition, processor, writer: transactional, again: false, closed: false, releasing: false };
    if (generation !== this.generation || !this.assigned.includes(partition)) {
      // Revoked (or the consumer restarted) while it was being taken over.
      task.closed = true;
      await transactional.close();
      return task;
    }
    this.tasks.set(partition, task);
    this.options.logger.info({ partition, transactionalId: transactional.transactionalId, offsets: checkpoint?.offsets ?? null }, 'partition taken over from its checkpoint');
    return task;
  }

  /** Commits a task's progress now (one transaction in flight per task; later output joins the next). */
  private commit(task: PartitionTask): Promise<void> {
    if (task.committing) {
      task.again = true;
      return task.committing;
    }
    const run = async () => {
      do {
        task.again = false;
        if (task.closed) return;
        const unit = validOutputs(task.processor.takeCommit(), (what, reason) =>
          this.options.logger.error({ what, reason }, 'output failed its contract and was not written'),
        );
        const started = Date.now();
        await task.writer.write(unit, this.options.group);
        const committedAtMs = Date.now();
        this.options.metrics?.committed(unit, committedAtMs - started, committedAtMs);
        this.options.recent?.add(unit.alerts as Alert.Value[]);
      } while (task.again && !task.closed);
    };
    task.committing = run()
      .catch((error: unknown) => this.onCommitFailed(task, error))
      .finally(() => {
        task.committing = undefined;
      });
    return task.committing;
  }

  private onCommitFailed(task: PartitionTask, error: unknown): void {
    const releasing = task.releasing || task.closed;
    // Output taken for the failed transaction is gone from the processor: its state must never be committed.
    task.closed = true;
    if (releasing) return;
    if (isFenced(error)) {
      this.options.logger.warn({ partition: task.partition }, 'another instance took this partition over (fenced); dropping it');
      void this.closeTask(task.partition, 'fenced', false);
      return;
    }
    this.lastError = error instanceof Error ? error.message : String(error);
    this.options.logger.error({ err: error, partition: task.partition }, 'transaction failed; resuming every partition from its checkpoint');
    void this.restartConsumer('a transaction failed');
  }

  /** Every interval: idle partitions release the watermark, and progress is committed. */
  private tick(): void {
    for (const task of this.tasks.values()) {
      if (task.closed) continue;
      task.processor.markIdlePartitions();
      task.processor.collect();
      if (task.processor.hasOutput || task.processor.pendingRecords > 0) void this.commit(task);
    }
  }

  private async closeTask(partition: number, why: string, commitFirst = true): Promise<void> {
    const task = this.tasks.get(partition);
    if (!task) return;
    this.tasks.delete(partition);
    task.releasing = true;
    if (commitFirst && !task.closed) await this.commit(task).catch(() => undefined);
    task.closed = true;
    await task.committing?.catch(() => undefined);
    await task.writer.close();
    this.options.logger.info({ partition, why }, 'partition released');
  }

  private async stopConsumer(commit: boolean): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    this.assigned = [];
    this.generation++;
    if (consumer) await consumer.stop().catch(() => undefined);
    await Promise.all([...this.opening.values()].map((opening) => opening.catch(() => undefined)));
    await Promise.all([...this.tasks.keys()].map((partition) => this.closeTask(partition, 'consumer stopped', commit)));
    if (consumer) await consumer.disconnect().catch(() => undefined);
  }
}
