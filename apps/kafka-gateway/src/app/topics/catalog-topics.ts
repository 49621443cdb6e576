import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { allTopicSpecs } from '@tributary/contracts';
import { ClusterAdmin, KAFKA_CONNECTION, KAFKA_LOGGER, type KafkaConnection } from '@tributary/kafka';
import { TopicReconciler } from './topic-reconciler';

export const CATALOG_TOPICS_OPTIONS = Symbol('CATALOG_TOPICS_OPTIONS');

export interface CatalogTopicsOptions {
  readonly replicationFactor: number;
  /** Apply the catalog (partitions and configs too) in the background once the app has started. */
  readonly applyOnStart: boolean;
}

/**
 * One admin connection for the catalog endpoints, opened on first use and closed on shutdown; with
 * `applyOnStart`, applies the catalog once in the background at start-up (a failure is logged and
 * left to `POST /admin/topics/apply`, so an unreachable broker never blocks the start).
 */
@Injectable()
export class CatalogTopics implements OnApplicationBootstrap, OnModuleDestroy {
  private admin?: ClusterAdmin;

  constructor(
    @Inject(KAFKA_CONNECTION) private readonly connection: KafkaConnection,
    @Inject(KAFKA_LOGGER) private readonly logger: Logger,
    @Inject(CATALOG_TOPICS_OPTIONS) private readonly options: CatalogTopicsOptions,
  ) {}

  /** A reconciler of every catalog topic and its dead-letter topic. */
  async reconciler(): Promise<TopicReconciler> {
    this.admin ??= new ClusterAdmin(this.connection, { replicationFactor: this.options.replicationFactor, logger: this.logger });
    return new TopicReconciler(this.admin, allTopicSpecs(), { logger: this.logger });
  }

  onApplicationBootstrap(): void {
    if (!this.options.applyOnStart) return;
    this.reconciler()
      .then((reconciler) => reconciler.apply())
      .then((report) => {
        if (report.partitionsNotDecreased.length > 0) {
          this.logger.warn({ topics: report.partitionsNotDecreased }, 'topics have more partitions than the catalog; left as they are');
        }
      })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not apply the topic catalog at start-up; retry with POST /admin/topics/apply'));
  }

  async onModuleDestroy(): Promise<void> {
    await this.admin?.close();
  }
}
