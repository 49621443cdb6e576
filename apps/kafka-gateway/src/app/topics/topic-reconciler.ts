import type { Logger } from 'pino';
import { kafkaTopicConfig, type TopicSpec } from '@tributary/contracts';
import type { ClusterAdmin, TopicDescription } from '@tributary/kafka';

/** A topic config whose cluster value is not the catalog's. */
export interface ConfigDrift {
  readonly name: string;
  readonly catalog: string;
  /** Undefined when the cluster has no value for it (the config is not readable). */
  readonly cluster: string | undefined;
}

/** How one catalog topic compares with the cluster. */
export interface TopicDrift {
  readonly topic: string;
  readonly missing: boolean;
  readonly partitions: { readonly catalog: number; readonly cluster: number | undefined };
  readonly configs: readonly ConfigDrift[];
  /** True when the topic exists exactly as the catalog says. */
  readonly inSync: boolean;
}

export interface DriftReport {
  readonly inSync: boolean;
  readonly topics: readonly TopicDrift[];
}

/** What one apply changed, per topic; `partitionsNotDecreased` lists topics that have more partitions than the catalog. */
export interface ApplyReport {
  readonly created: string[];
  readonly partitionsIncreased: { topic: string; from: number; to: number }[];
  readonly partitionsNotDecreased: { topic: string; catalog: number; cluster: number }[];
  readonly configsAligned: { topic: string; configs: ConfigDrift[] }[];
  /** Drift that remains after the apply (partition counts above the catalog's). */
  readonly after: DriftReport;
}


/**
 * Compares the catalog's topics (partitions, retention, cleanup policy, compression, segment and
 * compaction settings) with the cluster and brings the cluster in line: creates missing topics,
 * adds partitions (never removes them: that would move keys to other partitions, so it is
 * reported instead) and sets the catalog's configs with IncrementalAlterConfigs, which leaves a
 * topic's other overrides as they are.
 */
export class TopicReconciler {
  constructor(
    private readonly admin: ClusterAdmin,
    private readonly specs: readonly TopicSpec[],
    private readonly options: { logger?: Logger } = {},
  ) {}

  async drift(): Promise<DriftReport> {
    const cluster = await this.describe();
    const topics = this.specs.map((spec) => this.compare(spec, cluster.get(spec.topic)));
    return { inSync: topics.every((topic) => topic.inSync), topics };
  }

  async apply(): Promise<ApplyReport> {
    const before = await this.drift();
    const specOf = new Map(this.specs.map((spec) => [spec.topic, spec]));
    const created: string[] = [];
    const partitionsIncreased: ApplyReport['partitionsIncreased'] = [];
    const partitionsNotDecreased: ApplyReport['partitionsNotDecreased'] = [];
    const configsAligned: ApplyReport['configsAligned'] = [];

    const missing = before.topics.filter((topic) => topic.missing).map((topic) => topic.topic);
    if (missing.length > 0) {
      // A topic another instance created in between counts as existing, not as a failure.
      const ensured = await this.admin.ensure(missing.map((topic) => specOf.get(topic) as TopicSpec));
      created.push(...ensured.created);
    }

    const grow: { topic: string; count: number }[] = [];
    for (const topic of before.topics) {
      const cluster = topic.partitions.cluster;
      if (topic.missing || cluster === undefined) continue;
      if (cluster < topic.partitions.catalog) {
        grow.push({ topic: topic.topic, count: topic.partitions.catalog });
        partitionsIncreased.push({ topic: topic.topic, from: cluster, to: topic.partitions.catalog });
      } else if (cluster > topic.partitions.catalog) {
        partitionsNotDecreased.push({ topic: topic.topic, catalog: topic.partitions.catalog, cluster });
      }
    }
    for (const { topic, count } of grow) await this.admin.createPartitions(topic, count);

    const misconfigured = before.topics.filter((topic) => !topic.missing && topic.configs.length > 0);
    for (const topic of misconfigured) {
      await this.admin.setTopicConfigs(topic.topic, kafkaTopicConfig(specOf.get(topic.topic) as TopicSpec));
      configsAligned.push({ topic: topic.topic, configs: [...topic.configs] });
    }

    const report = { created, partitionsIncreased, partitionsNotDecreased, configsAligned };
    if (created.length + partitionsIncreased.length + configsAligned.length > 0) {
      this.options.logger?.info(report, 'applied the topic catalog to the cluster');
    }
    const changed = new Set([...created, ...partitionsIncreased.map((t) => t.topic), ...configsAligned.map((t) => t.topic)]);
    return { ...report, after: await this.driftOnceVisible(changed) };
  }

  /**
   * The drift once the brokers show what this apply changed: a KRaft broker answers with a new
   * topic, partition count or config a moment after the controller accepted it. Waits at most
   * `settleMs`, then reports what it reads.
   */
  private async driftOnceVisible(changed: ReadonlySet<string>, settleMs = 15_000): Promise<DriftReport> {
    const deadline = Date.now() + settleMs;
    for (let delay = 50; ; delay = Math.min(1_000, delay * 2)) {
      const drift = await this.drift();
      const pending = drift.topics.some(
        (topic) =>
          changed.has(topic.topic) &&
          (topic.missing || topic.configs.length > 0 || (topic.partitions.cluster ?? 0) < topic.partitions.catalog),
      );
      if (!pending || Date.now() + delay > deadline) return drift;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  private compare(spec: TopicSpec, cluster: TopicDescription | undefined): TopicDrift {
    const catalogConfigs = kafkaTopicConfig(spec);
    if (cluster === undefined) {
      return {
        topic: spec.topic,
        missing: true,
        partitions: { catalog: spec.partitions, cluster: undefined },
        configs: catalogConfigs.map((entry) => ({ name: entry.name, catalog: entry.value, cluster: undefined })),
        inSync: false,
      };
    }
    const configs = catalogConfigs
      .filter((entry) => cluster.configs.get(entry.name) !== entry.value)
      .map((entry) => ({ name: entry.name, catalog: entry.value, cluster: cluster.configs.get(entry.name) }));
    return {
      topic: spec.topic,
      missing: false,
      partitions: { catalog: spec.partitions, cluster: cluster.partitions },
      configs,
      inSync: configs.length === 0 && cluster.partitions === spec.partitions,
    };
  }

  /** Partition counts and configs of the catalog topics that exist. */
  private describe(): Promise<Map<string, TopicDescription>> {
    return this.admin.describeTopics(this.specs.map((spec) => spec.topic));
  }
}
