import type { Logger } from 'pino';
import type { RulePlacement } from '@tributary/cep';
import { CATALOG, type CepRule, type TopicSpec, topicSpec } from '@tributary/contracts';
import { ClusterAdmin, coPartitionAssignor, deadLetterTopicConfig, type KafkaConnection, type PartitionAssignor, topicConfigOf, TypedProducer } from '@tributary/kafka';
import type { CepTopics } from '../engine/cep-topics';
import { GLOBAL_SLOT, type Slot } from '../engine/checkpoint';
import type { PartitionProcessor } from '../engine/partition-processor';
import type { CepMetrics } from '../observability/cep-metrics';
import type { RecentAlerts } from '../observability/recent-alerts';
import type { RuleSpec } from '../rules/rule-api';
import type { RuleBook } from '../rules/rule-book';

import { InputLane } from './input-lane';
import { singleOwnerAssignor } from './single-owner-assigner';
import { StateTopicsReader } from './state-topics-reader';
import { CHECKPOINT_PARTITIONS } from './transactional-writer';

export interface CepRunnerOptions {
  /** How the input consumers reach the cluster. */
  readonly connection: KafkaConnection;
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

export type CepRunnerState = 'starting' | 'running' | 'idle' | 'recovering' | 'stopped';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The service's Kafka side. It reads the rules and checkpoints topics (StateTopicsReader), seeds the
 * default rules, and runs two input lanes, each exactly once (see `InputLane`):
 *
 * - `partitioned`: the rules whose inputs are partitioned by their key, in the service's group with the
 *   co-partitioned assigner: the member owning partition number N reads partition N of every input and
 *   runs those rules' engines for it, with the transactional producer `<group>.p<N>`;
 * - `global`: the rules whose inputs are not (RISK_BREACH over CDC tables keyed by primary key,
 *   CORRELATION_BREAK over two symbols), in the group `<group>.global` whose one member reads every
 *   partition of their inputs, with the transactional producer `<group>.global`.
 */
export class CepRunner {
  private reader: StateTopicsReader | undefined;
  private lanes: InputLane[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private starting = true;
  private startError: string | undefined;

  constructor(
    private readonly rules: RuleBook,
    private readonly options: CepRunnerOptions,
  ) {}

  /** Starting, running (every lane with inputs consumes), idle (no enabled rule), recovering or stopped. */
  get state(): CepRunnerState {
    if (this.stopping) return 'stopped';
    if (this.starting || this.lanes.length === 0) return 'starting';
    const states = this.lanes.map((lane) => lane.state);
    if (states.every((state) => state === 'idle')) return 'idle';
    if (states.every((state) => state === 'running' || state === 'idle')) return 'running';
    return states.includes('recovering') ? 'recovering' : 'starting';
  }

  /** Why the service is not ready, when it is not. */
  get lastError(): string | undefined {
    return this.startError ?? this.lanes.map((lane) => lane.lastError).find((error) => error !== undefined);
  }

  /** Starts in the background, retrying with backoff while Kafka is away. */
  start(): void {
    void this.startWithRetry();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.lanes.map((lane) => lane.stop()));
    await this.reader?.stop();
  }

  /** Processors of the slots this instance owns (for GET /patterns and the metrics). */
  processors(): PartitionProcessor[] {
    return this.lanes.flatMap((lane) => lane.processors());
  }

  /** Partition numbers this instance owns (of the partitioned rules). */
  ownedPartitions(): number[] {
    return this.lanes.flatMap((lane) => lane.ownedSlots()).filter((slot): slot is number => slot !== GLOBAL_SLOT);
  }

  /** Does this instance run the global rules? */
  ownsGlobal(): boolean {
    return this.lanes.some((lane) => lane.ownedSlots().includes(GLOBAL_SLOT));
  }

  private async startWithRetry(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.startOnce();
        this.startError = undefined;
        return;
      } catch (error) {
        this.startError = error instanceof Error ? error.message : String(error);
        const delay = Math.min(30_000, 500 * 2 ** attempt);
        this.options.logger.warn({ err: error, retryInMs: delay }, 'cep-engine could not start; retrying');
        await this.reader?.stop();
        this.reader = undefined;
        await sleep(delay);
      }
    }
  }

  private async startOnce(): Promise<void> {
    const { topics, logger, group } = this.options;
    await this.ensureTopics([]);
    const reader = new StateTopicsReader(this.options.connection, topics, group, this.rules, logger.child({ component: 'state-reader' }));
    this.reader = reader;
    await reader.start();
    await reader.rulesLoaded(60_000);
    if (this.rules.size === 0 && this.options.seedRules && this.options.seedRules.length > 0) {
      await this.seed(this.options.seedRules);
    }
    const lane = (name: RulePlacement, groupId: string, assignor: PartitionAssignor, slotOf: (partition: number) => Slot): InputLane =>
      new InputLane(reader, {
        ...this.options,
        name,
        groupId,
        assignor,
        slotOf,
        rules: () => this.rules.enabledRules().filter((rule) => rule.placement === name),
        ensureInputs: (inputs) => this.ensureTopics(inputs),
        logger: logger.child({ lane: name }),
      });
    this.lanes = [lane('partitioned', group, coPartitionAssignor, (partition) => partition), lane('global', `${group}.global`, singleOwnerAssignor, () => GLOBAL_SLOT)];
    this.rules.onChange((changed) => this.onRulesChanged(changed));
    this.timer = setInterval(() => {
      for (const each of this.lanes) each.tick();
    }, this.options.commitIntervalMs);
    this.timer.unref();
    await Promise.all(this.lanes.map((each) => each.start('start')));
    this.starting = false;
  }

  /** Writes the default rules (only when the rules topic is empty). */
  private async seed(specs: readonly RuleSpec[]): Promise<void> {
    const [service = 'cep-engine', instance] = this.options.writer.split('/');
    const producer = new TypedProducer(this.options.connection, { service, instanceId: instance, logger: this.options.logger });
    try {
      const spec = { ...CATALOG['cep.rules'], topic: this.options.topics.rules };
      const ts = (BigInt(Date.now()) * 1_000_000n).toString();
      await producer.sendTo(
        spec,
        specs.map((rule) => ({ value: { ...rule, ts, updatedBy: `${this.options.writer} seed` } as CepRule.Value })),
      );
    } finally {
      await producer.disconnect();
    }
    await this.reader?.rulesLoaded(60_000);
    this.options.logger.info({ rules: specs.map((rule) => rule.id) }, 'seeded the rules topic with the built-in rules');
  }

  private async ensureTopics(inputs: readonly string[]): Promise<void> {
    const { topics, replicationFactor } = this.options;
    const admin = new ClusterAdmin(this.options.connection, { replicationFactor, logger: this.options.logger });
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
    this.options.logger.info({ changed, enabled: enabled.map((rule) => `${rule.spec.id}@${rule.spec.version}:${rule.placement}`) }, 'rules changed');
    for (const lane of this.lanes) lane.rulesChanged();
  }
}
