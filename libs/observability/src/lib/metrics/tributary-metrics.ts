import { Inject, Injectable, Optional } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Histogram, type Metric, Registry } from 'prom-client';

/** Injection token of the app's prom-client {@link Registry}. */
export const METRICS_REGISTRY = Symbol('tributary.metricsRegistry');

/** Seconds, from 0.1 ms (an in-memory handler) to 10 s (a stuck downstream write). */
export const HANDLER_DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export const KAFKA_METRIC_NAMES = {
  produced: 'tributary_kafka_messages_produced_total',
  consumed: 'tributary_kafka_messages_consumed_total',
  failed: 'tributary_kafka_messages_failed_total',
  deadLettered: 'tributary_kafka_messages_dead_lettered_total',
  handlerDuration: 'tributary_kafka_handler_duration_seconds',
} as const;

export interface MetricsRegistryOptions {
  /** Added as the `service` label of every series. */
  service: string;
  /** Node.js process metrics (CPU, memory, event loop lag, GC), unprefixed as usual. Default true. */
  defaultMetrics?: boolean;
}

/** A registry for one service: default process metrics, every series labelled with the service. */
export function createMetricsRegistry(options: MetricsRegistryOptions): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

type CounterChild = Counter.Internal;
/** A per-topic histogram child: `observe(seconds)`, or `startTimer()` returning the end function. */
export type HandlerTimer = Histogram.Internal<'topic'>;

interface TopicSeries {
  produced?: CounterChild;
  consumed?: CounterChild;
  failed?: CounterChild;
  deadLettered?: CounterChild;
  handler?: HandlerTimer;
}

/**
 * The metrics every Tributary service shares: messages produced, consumed, failed and sent to
 * a DLQ per topic, and the handler duration per topic. Label children are created once per
 * topic and kept, so counting a message costs a map lookup and an addition. `registry` is
 * where a service registers its own metrics.
 */
@Injectable()
export class TributaryMetrics {
  private readonly produced: Counter<'topic'>;
  private readonly consumed: Counter<'topic'>;
  private readonly failed: Counter<'topic'>;
  private readonly deadLettered: Counter<'topic'>;
  private readonly handlerDuration: Histogram<'topic'>;
  private readonly topics = new Map<string, TopicSeries>();

  constructor(@Optional() @Inject(METRICS_REGISTRY) readonly registry: Registry = new Registry()) {
    this.produced = this.counter(KAFKA_METRIC_NAMES.produced, 'Messages written to Kafka, by topic');
    this.consumed = this.counter(
      KAFKA_METRIC_NAMES.consumed,
      'Messages read from Kafka and handled, by topic',
    );
    this.failed = this.counter(KAFKA_METRIC_NAMES.failed, 'Failed attempts to handle a message, by topic');
    this.deadLettered = this.counter(
      KAFKA_METRIC_NAMES.deadLettered,
      'Messages sent to the dead letter topic, by source topic',
    );
    this.handlerDuration =
      this.existing<Histogram<'topic'>>(KAFKA_METRIC_NAMES.handlerDuration) ??
      new Histogram({
        name: KAFKA_METRIC_NAMES.handlerDuration,
        help: 'Time spent handling one message or batch, by topic',
        labelNames: ['topic'],
        buckets: [...HANDLER_DURATION_BUCKETS],
        registers: [registry],
      });
  }

  kafkaProduced(topic: string, n = 1): void {
    (this.series(topic).produced ??= this.produced.labels(topic)).inc(n);
  }

  kafkaConsumed(topic: string, n = 1): void {
    (this.series(topic).consumed ??= this.consumed.labels(topic)).inc(n);
  }

  kafkaFailed(topic: string, n = 1): void {
    (this.series(topic).failed ??= this.failed.labels(topic)).inc(n);
  }

  kafkaDeadLettered(topic: string, n = 1): void {
    (this.series(topic).deadLettered ??= this.deadLettered.labels(topic)).inc(n);
  }

  /** The handler duration of `topic`: `const end = metrics.handlerSeconds(t).startTimer(); ...; end();`. */
  handlerSeconds(topic: string): HandlerTimer {
    return (this.series(topic).handler ??= this.handlerDuration.labels(topic));
  }

  /** Prometheus text exposition of every metric in the registry. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  private series(topic: string): TopicSeries {
    let series = this.topics.get(topic);
    if (series === undefined) {
      series = {};
      this.topics.set(topic, series);
    }
    return series;
  }

  private counter(name: string, help: string): Counter<'topic'> {
    return (
      this.existing<Counter<'topic'>>(name) ??
      new Counter({ name, help, labelNames: ['topic'], registers: [this.registry] })
    );
  }

  /** Two instances on one registry (an app and a library) share the same series. */
  private existing<M extends Metric>(name: string): M | undefined {
    return this.registry.getSingleMetric(name) as M | undefined;
  }
}
