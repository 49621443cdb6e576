import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { allTopicSpecs } from '@tributary/contracts';
import { KAFKA_CLIENT, KAFKA_LOGGER } from '@tributary/kafka';
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
  private admin?: Admin;
  private connected?: Promise<void>;

  constructor(
    @Inject(KAFKA_CLIENT) private readonly kafka: Kafka,
    @Inject(KAFKA_LOGGER) private readonly logger: Logger,
    @Inject(CATALOG_TOPICS_OPTIONS) private readonly options: CatalogTopicsOptions,
  ) {}

  /** A reconciler of every catalog topic and its dead-letter topic. */
  async reconciler(): Promise<TopicReconciler> {
    this.admin ??= this.kafka.admin();
    const admin = this.admin;
    this.connected ??= admin.connect().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    await this.connected;
    return new TopicReconciler(admin, allTopicSpecs(), { replicationFactor: this.options.replicationFactor, logger: this.logger });
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
    if (this.connected !== undefined) await this.admin?.disconnect();
  }
}
