import { Inject, Injectable, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { Admin } from '@platformatic/kafka';
import { DEFAULT_PROBE_TIMEOUT_MS, describeError, raceTimeout } from '@tributary/observability';
import type { KafkaBatchServer } from '../consumer/kafka-batch-server';
import { applyBrokerAddress, clientOptionsOf, type KafkaConnection } from '../kafka-connection';
import { KAFKA_CONNECTION, KAFKA_MODULE_OPTIONS, type KafkaModuleOptions } from '../kafka.tokens';
import { KafkaTopicsState } from '../kafka-topics-state';

/**
 * Readiness of Kafka for a terminus health check. `isHealthy` asks the cluster to describe itself
 * over one admin connection that is kept between probes, raced against a timeout; a failed probe
 * drops that connection and the next probe opens a new one, so the check reports up again by
 * itself once the brokers are back, and never holds more than one admin client. It also reports
 * down until the catalog topics are ensured, when the module was asked to ensure them.
 * `isConsumerReady` reports a {@link KafkaBatchServer}'s group membership.
 */
@Injectable()
export class KafkaHealthIndicator implements OnApplicationShutdown {
  readonly brokers: string;
  private readonly timeoutMs: number;
  private admin?: Admin;
  /** One probe at a time: overlapping probes share it instead of stacking requests on a dead broker. */
  private inFlight?: Promise<{ brokers: number; controller: number | null; clusterId: string }>;
  private closed = false;

  constructor(
    @Inject(KAFKA_CONNECTION) private readonly connection: KafkaConnection,
    @Inject(KAFKA_MODULE_OPTIONS) options: KafkaModuleOptions,
    @Optional() private readonly topics?: KafkaTopicsState,
    @Optional() private readonly indicators: HealthIndicatorService = new HealthIndicatorService(),
  ) {
    this.brokers = options.config.KAFKA_BROKERS.join(',');
    this.timeoutMs = options.healthTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  }

  /** `{ [key]: { status, brokers, clusterId, ... } }`: up when the cluster answers within the timeout. */
  async isHealthy<const Key extends string = 'kafka'>(key: Key = 'kafka' as Key): Promise<HealthIndicatorResult<Key>> {
    const session = this.indicators.check(key);
    const started = performance.now();
    try {
      if (this.closed) throw new Error('the health indicator is closed');
      const cluster = await raceTimeout(this.describeCluster(), this.timeoutMs, `Kafka ${this.brokers}`);
      const data = {
        brokers: this.brokers,
        brokersUp: cluster.brokers,
        controller: cluster.controller,
        clusterId: cluster.clusterId,
        responseTimeMs: Math.round(performance.now() - started),
      };
      const topics = this.topics?.pending();
      if (topics) return session.down({ ...data, message: topics });
      return session.up(data);
    } catch (error) {
      const reason = describeError(error);
      const message = reason.startsWith('Kafka ') ? reason : `Kafka ${this.brokers}: ${reason}`;
      return session.down({ brokers: this.brokers, message });
    }
  }

  /** Up while the server is connected and a member of its consumer group. */
  isConsumerReady<const Key extends string = 'kafka-consumer'>(
    server: KafkaBatchServer,
    key: Key = 'kafka-consumer' as Key,
  ): HealthIndicatorResult<Key> {
    const session = this.indicators.check(key);
    const health = server.health();
    const data = {
      groupId: health.groupId,
      consumerStatus: health.status,
      lastBatchAt: health.lastBatchAt,
      lag: health.lag,
    };
    if (server.ready) return session.up(data);
    const why = health.lastError ? `: ${health.lastError}` : '';
    return session.down({ ...data, message: `consumer group ${health.groupId} is ${health.status}${why}` });
  }

  onApplicationShutdown(): Promise<void> {
    this.closed = true;
    return this.dropAdmin();
  }

  private describeCluster(): Promise<{ brokers: number; controller: number | null; clusterId: string }> {
    this.inFlight ??= (async () => {
      try {
        const cluster = await this.adminClient().metadata({ topics: [], forceUpdate: true });
        return { brokers: cluster.brokers.size, controller: cluster.controllerId >= 0 ? cluster.controllerId : null, clusterId: cluster.id };
      } catch (error) {
        await this.dropAdmin();
        throw error;
      } finally {
        this.inFlight = undefined;
      }
    })();
    return this.inFlight;
  }

  private adminClient(): Admin {
    // No retries inside the probe: the readiness probe itself is the retry loop.
    this.admin ??= applyBrokerAddress(new Admin({ ...clientOptionsOf(this.connection), retries: 0 }), this.connection);
    return this.admin;
  }

  private async dropAdmin(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.close().catch(() => undefined);
  }
}
