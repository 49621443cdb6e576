import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { allTopicSpecs, type TopicSpec } from '@tributary/contracts';
import { describeError } from '@tributary/observability';
import { ClusterAdmin } from './cluster-admin';
import type { KafkaConnection } from './kafka-connection';
import { KAFKA_CONNECTION, KAFKA_MODULE_OPTIONS, type KafkaModuleOptions } from './kafka.tokens';
import { KAFKA_LOGGER } from './kafka-logger';
import { retryDelayMs } from './retry-policy';

/**
 * Ensures the catalog topics on start when `KafkaModule.forRoot({ ensureTopics })` asks for it,
 * in the background: an absent cluster delays it (retried with backoff, reported by the health
 * check) but never stops the app from starting.
 */
@Injectable()
export class KafkaTopicsState implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly specs: readonly TopicSpec[];
  private done: boolean;
  private lastError?: string;
  private timer?: NodeJS.Timeout;
  private attempt = 0;
  private stopped = false;
  private admin?: ClusterAdmin;

  constructor(
    @Inject(KAFKA_CONNECTION) private readonly connection: KafkaConnection,
    @Inject(KAFKA_MODULE_OPTIONS) private readonly options: KafkaModuleOptions,
    @Inject(KAFKA_LOGGER) private readonly logger: Logger,
  ) {
    const wanted = options.ensureTopics;
    this.specs = wanted === true ? allTopicSpecs() : Array.isArray(wanted) ? (wanted as readonly TopicSpec[]) : [];
    this.done = this.specs.length === 0;
  }

  /** Why the topics are not ready yet, or undefined once they are. */
  pending(): string | undefined {
    if (this.done) return undefined;
    return `catalog topics not ensured yet${this.lastError ? `: ${this.lastError}` : ''}`;
  }

  onApplicationBootstrap(): void {
    if (!this.done) void this.ensure();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.admin?.close().catch(() => undefined);
  }

  private async ensure(): Promise<void> {
    if (this.stopped) return;
    const admin = new ClusterAdmin(this.connection, {
      replicationFactor: this.options.config.KAFKA_REPLICATION_FACTOR,
      logger: this.logger,
    });
    this.admin = admin;
    try {
      const result = await admin.ensure(this.specs);
      this.done = true;
      this.lastError = undefined;
      this.logger.info({ created: result.created.length, existing: result.existing.length }, 'catalog topics ensured');
    } catch (error) {
      this.lastError = describeError(error);
      if (this.stopped) return;
      const delay = retryDelayMs({ maxAttempts: Infinity, baseDelayMs: 1_000, maxDelayMs: 30_000 }, ++this.attempt);
      this.logger.warn({ err: error, retryInMs: delay }, 'could not ensure the catalog topics; retrying');
      this.timer = setTimeout(() => void this.ensure(), delay);
      this.timer.unref();
    } finally {
      this.admin = undefined;
      await admin.close().catch(() => undefined);
    }
  }
}
