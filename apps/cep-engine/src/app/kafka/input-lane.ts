import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { type Alert, HEADERS } from '@tributary/contracts';
import { type Assignment, isTransactionFenced, type KafkaConnection, ManagedConsumer, type PartitionAssignor, type PartitionBatch, recordHeader } from '@tributary/kafka';
import { type Slot } from '../engine/checkpoint';
import { PartitionProcessor } from '../engine/partition-processor';
import type { CepTopics } from '../engine/cep-topics';
import type { CepMetrics } from '../observability/cep-metrics';
import type { RecentAlerts } from '../observability/recent-alerts';
import type { CompiledRule } from '../rules/rule-api';
import type { StateTopicsReader } from './state-topics-reader';
import { type GroupMembership, TransactionalWriter, validOutputs } from './transactional-writer';

export type LaneState = 'starting' | 'running' | 'idle' | 'recovering' | 'stopped';

export interface InputLaneOptions {
  /** `partitioned` or `global`: names the lane in logs. */
  readonly name: string;
  /** Consumer group of the lane: the service's group (offsets of the partitioned rules) or `<group>.global`. */
  readonly groupId: string;
  /** The service's consumer group: names checkpoints and transactional ids. */
  readonly group: string;
  readonly assignor: PartitionAssignor;
  readonly connection: KafkaConnection;
  /** The slot an assigned input partition belongs to. */
  slotOf(partition: number): Slot;
  /** The enabled rules this lane runs. */
  rules(): CompiledRule[];
  /** Creates the lane's input topics and their DLQs when missing. */
  ensureInputs(inputs: readonly string[]): Promise<void>;
  readonly writer: string;
  readonly topics: CepTopics;
  readonly commitIntervalMs: number;
  readonly idlePartitionMs: number;
  readonly idleKeyTtlNs: number;
  readonly transactionTimeoutMs: number;
  readonly startFrom: 'earliest' | 'latest';
  readonly logger: Logger;
  readonly metrics?: CepMetrics;
  readonly recent?: RecentAlerts;
}

/** A slot this instance owns: its processor (state of the lane's rules) and its transactional producer. */
interface SlotTask {
  readonly slot: Slot;
  readonly processor: PartitionProcessor;
  readonly writer: TransactionalWriter;
  /** The transaction in flight, if any. */
  committing?: Promise<void>;
  /** More output arrived while a transaction was in flight. */
  again: boolean;
  /** The next transaction commits the group offsets too (interval reached, or the slot is released). */
  offsetsDue: boolean;
  /** Processing time the group offsets were last committed (epoch ms). */
  offsetsAtMs: number;
  /** Processing time the last transaction started (epoch ms). */
  committedAtMs: number;
  /** No more commits: released, or its state ran ahead of a failed transaction and must not be committed. */
  closed: boolean;
  releasing: boolean;
  /** Per `topic/partition`: the offset the consumer was sent back to (the checkpoint's), so it is asked once. */
  readonly soughtTo: Map<string, string>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One consumer group over a set of rules' inputs, read-process-write exactly once:
 *
 * - the group's assigner deals out slots: partition numbers (member owning N gets partition N of every
 *   input) for the partitioned rules, or the one global slot (every partition) for the global rules;
 * - per slot a `PartitionProcessor` (one engine per rule) and a transactional producer; taking a slot
 *   fences the previous owner, writes a claim and loads the slot's last checkpoint;
 * - each transaction carries the alerts, side outputs, dead letters and the slot's checkpoint (engine
 *   state and input offsets). The group offsets join it at most every commit interval (and when the slot
 *   is released): a transaction with alerts in it commits at once, without the two extra round trips.
 *   The checkpoint, not the group offsets, is where a new owner resumes: group offsets are only ever
 *   committed with a checkpoint of the same offsets, so they never run ahead of it, and a consumer that
 *   starts beyond the checkpoint (no group offset yet, starting at the latest) is sent back to it.
 */
export class InputLane {
  private readonly tasks = new Map<Slot, SlotTask>();
  private readonly opening = new Map<Slot, Promise<SlotTask>>();
  private consumer: ManagedConsumer | undefined;
  private subscribed: string[] = [];
  /** Slots the group assigned to this instance in the current generation. */
  private assigned: Slot[] = [];
  private restarting: Promise<void> | undefined;
  private stopping = false;
  private generation = 0;
  state: LaneState = 'starting';
  lastError: string | undefined;

  constructor(
    private readonly reader: StateTopicsReader,
    private readonly options: InputLaneOptions,
  ) {}

  /** Catalog topics the lane's rules read. */
  inputs(): string[] {
    return [...new Set(this.options.rules().flatMap((rule) => rule.inputs))].sort();
  }

  processors(): PartitionProcessor[] {
    return [...this.tasks.values()].map((task) => task.processor);
  }

  ownedSlots(): Slot[] {
    return [...this.assigned];
  }

  start(reason: string): Promise<void> {
    return this.restartConsumer(reason);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // A consumer still trying to join gives up; then the restart in progress ends.
    await this.consumer?.stop().catch(() => undefined);
    await this.restarting?.catch(() => undefined);
    await this.stopConsumer(true);
    this.state = 'stopped';
  }

  /** The rules changed: every processor takes the lane's current rules; the consumer follows their inputs. */
  rulesChanged(): void {
    const rules = this.options.rules();
    for (const task of this.tasks.values()) task.processor.setRules(rules);
    const inputs = this.inputs().map((name) => this.options.topics.onCluster(name));
    if (inputs.join(',') !== this.subscribed.join(',') && this.state !== 'starting') void this.restartConsumer('the rules read other topics');
  }

  /**
   * Every interval: idle partitions release the watermark, and a slot with progress (records, side
   * outputs, dead letters) that has not committed for an interval commits it, with the group offsets.
   */
  tick(): void {
    const now = Date.now();
    for (const task of this.tasks.values()) {
      if (task.closed) continue;
      task.processor.markIdlePartitions();
      task.processor.collect();
      const pending = task.processor.hasOutput || task.processor.pendingRecords > 0;
      if (task.processor.hasAlerts || (pending && !task.committing && now - task.committedAtMs >= this.options.commitIntervalMs)) {
        task.offsetsDue = true;
        void this.commit(task);
      }
    }
  }

  /** (Re)starts the group consumer on the lane's inputs, committing and closing every task first. */
  private restartConsumer(reason: string): Promise<void> {
    const previous = this.restarting ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        if (this.stopping) return;
        this.state = this.state === 'starting' ? 'starting' : 'recovering';
        this.options.logger.info({ reason, lane: this.options.name }, 'starting the input consumer');
        await this.stopConsumer(true);
        for (let attempt = 0; !this.stopping; attempt++) {
          try {
            await this.runConsumer();
            return;
          } catch (error) {
            this.lastError = error instanceof Error ? error.message : String(error);
            const delay = Math.min(30_000, 500 * 2 ** attempt);
            this.options.logger.warn({ err: error, retryInMs: delay, lane: this.options.name }, 'input consumer could not start; retrying');
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
    const inputs = this.inputs();
    this.subscribed = inputs.map((name) => this.options.topics.onCluster(name));
    if (inputs.length === 0) {
      this.state = 'idle';
      return;
    }
    await this.options.ensureInputs(inputs);
    const generation = ++this.generation;
    const consumer: ManagedConsumer = new ManagedConsumer(this.options.connection, {
      groupId: this.options.groupId,
      topics: this.subscribed,
      assignor: this.options.assignor,
      readCommitted: true,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 20_000,
      maxWaitMs: 100,
      // offsets are committed in the slots' transactions, with their checkpoints
      autoCommit: false,
      partitionsConcurrently: 1,
      fromBeginning: this.options.startFrom === 'earliest',
      handle: (batch): Promise<void> => this.onBatch(batch, generation, consumer),
      onAssigned: (assignment) => this.onAssigned(assignment, generation),
      logger: this.options.logger,
    });
    this.consumer = consumer;
    // Keeps trying to join while the cluster is away, until the lane stops.
    await consumer.start();
    if (generation !== this.generation || this.stopping) return;
    this.state = 'running';
    this.lastError = undefined;
  }

  /** A new generation: slots no longer owned are released, new ones taken over now (not at their first record). */
  private onAssigned(assignment: Assignment, generation: number): void {
    if (generation !== this.generation) return;
    const owned = new Set<Slot>([...assignment.values()].flat().map((partition) => this.options.slotOf(partition)));
    this.assigned = [...owned].sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : 1));
    this.options.logger.info({ slots: this.assigned, lane: this.options.name }, 'partitions assigned');
    for (const slot of [...this.tasks.keys()]) if (!owned.has(slot)) void this.closeTask(slot, 'revoked');
    // Fence the previous owner and load the checkpoint now.
    for (const slot of this.assigned) {
      this.task(slot).catch((error: unknown) => this.options.logger.warn({ err: error, slot }, 'could not take the slot over yet'));
    }
  }

  private async onBatch(batch: PartitionBatch, generation: number, consumer: ManagedConsumer): Promise<void> {
    if (generation !== this.generation) return;
    const task = await this.task(this.options.slotOf(batch.partition));
    if (task.closed || generation !== this.generation) return;
    const processor = task.processor;
    const { topic, partition, records } = batch;
    const first = records[0];
    const position = processor.position(topic, partition);
    if (first !== undefined && position !== undefined && first.offset > BigInt(position)) {
      // The consumer starts beyond the checkpoint (no group offset yet, or one lost): read from the
      // checkpoint instead. Asked once per position, since the gap may be transaction markers only.
      const name = `${topic}/${partition}`;
      if (task.soughtTo.get(name) !== position) {
        task.soughtTo.set(name, position);
        this.options.logger.info({ topic, partition, from: first.offset.toString(), to: position }, 'input read from the checkpoint position');
        consumer.rewind(topic, partition, BigInt(position));
        return;
      }
    }
    let applied = 0;
    for (const record of records) {
      if (this.stopping || generation !== this.generation) break;
      const result = processor.ingest({
        topic,
        partition,
        offset: record.offset.toString(),
        key: record.key,
        value: record.value,
        // decoded only for a dead letter
        get headers() {
          return record.headers;
        },
        schemaVersion: recordHeader(record, HEADERS.schemaVersion),
      });
      if (result !== 'skipped') applied++;
    }
    if (applied > 0) this.options.metrics?.consumed(topic, applied);
    processor.collect();
    // Alerts commit at once; side outputs and dead letters join them or the next interval's commit.
    if (processor.hasAlerts) void this.commit(task);
  }

  /** The task of a slot, opening it (fence, claim, restore) on first use. */
  private async task(slot: Slot): Promise<SlotTask> {
    const open = this.tasks.get(slot);
    if (open) return open;
    let opening = this.opening.get(slot);
    if (!opening) {
      opening = this.openTask(slot).finally(() => this.opening.delete(slot));
      this.opening.set(slot, opening);
    }
    return opening;
  }

  private async openTask(slot: Slot): Promise<SlotTask> {
    const { topics, group, writer } = this.options;
    const generation = this.generation;
    const transactional = new TransactionalWriter(this.options.connection, {
      group,
      slot,
      topics,
      writer,
      transactionTimeoutMs: this.options.transactionTimeoutMs,
      logger: this.options.logger,
    });
    const nonce = randomUUID();
    await transactional.claim(nonce);
    await this.reader.waitForClaim(slot, nonce, 60_000);
    const checkpoint = this.reader.checkpoint(slot);
    const processor = new PartitionProcessor(
      {
        group,
        slot,
        topics,
        writer,
        idlePartitionMs: this.options.idlePartitionMs,
        idleKeyTtlNs: this.options.idleKeyTtlNs,
        onPartialMatchesDropped: (rule, count) => this.options.metrics?.partialMatchesDropped(rule, count),
      },
      this.options.rules(),
      checkpoint,
    );
    const task: SlotTask = { slot, processor, writer: transactional, again: false, offsetsDue: true, offsetsAtMs: 0, committedAtMs: 0, closed: false, releasing: false, soughtTo: new Map() };
    if (generation !== this.generation || !this.assigned.includes(slot)) {
      // Revoked (or the consumer restarted) while it was being taken over.
      task.closed = true;
      await transactional.close();
      return task;
    }
    this.tasks.set(slot, task);
    this.options.logger.info({ slot, transactionalId: transactional.transactionalId, offsets: checkpoint?.offsets ?? null }, 'slot taken over from its checkpoint');
    return task;
  }

  /** Commits a task's progress now (one transaction in flight per task; later output joins the next). */
  private commit(task: SlotTask): Promise<void> {
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
        task.committedAtMs = started;
        const withOffsets = task.offsetsDue || task.releasing || started - task.offsetsAtMs >= this.options.commitIntervalMs;
        task.offsetsDue = false;
        await task.writer.write(unit, withOffsets ? this.membership() : null);
        const committedAtMs = Date.now();
        if (withOffsets) task.offsetsAtMs = started;
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

  /**
   * The input consumer's group membership the offsets are committed with (KIP-447): once the group has
   * moved to a generation this member is not part of, the coordinator refuses them.
   */
  private membership(): GroupMembership | null {
    return this.consumer?.membership ?? null;
  }

  private onCommitFailed(task: SlotTask, error: unknown): void {
    const releasing = task.releasing || task.closed;
    // Output taken for the failed transaction is gone from the processor: its state must never be committed.
    task.closed = true;
    if (releasing) return;
    // Another instance took the slot over, or the group moved past this member's generation.
    if (isTransactionFenced(error)) {
      this.options.logger.warn({ slot: task.slot }, 'another instance took this slot over (fenced); dropping it');
      void this.closeTask(task.slot, 'fenced', false);
      return;
    }
    this.lastError = error instanceof Error ? error.message : String(error);
    this.options.logger.error({ err: error, slot: task.slot }, 'transaction failed; resuming every slot of the lane from its checkpoint');
    void this.restartConsumer('a transaction failed');
  }

  private async closeTask(slot: Slot, why: string, commitFirst = true): Promise<void> {
    const task = this.tasks.get(slot);
    if (!task) return;
    this.tasks.delete(slot);
    task.releasing = true;
    if (commitFirst && !task.closed) {
      // Whatever is in flight first, then a last transaction with the group offsets.
      await task.committing?.catch(() => undefined);
      if (!task.closed) await this.commit(task).catch(() => undefined);
    }
    task.closed = true;
    await task.committing?.catch(() => undefined);
    await task.writer.close();
    this.options.logger.info({ slot, why }, 'slot released');
  }

  private async stopConsumer(commit: boolean): Promise<void> {
    const consumer = this.consumer;
    this.consumer = undefined;
    this.assigned = [];
    this.generation++;
    if (consumer) await consumer.stop().catch(() => undefined);
    await Promise.all([...this.opening.values()].map((opening) => opening.catch(() => undefined)));
    await Promise.all([...this.tasks.keys()].map((slot) => this.closeTask(slot, 'consumer stopped', commit)));
  }
}
