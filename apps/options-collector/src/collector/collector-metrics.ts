import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Seconds from a batch leaving the source to the brokers acknowledging all of it: 1 ms to 30 s (an outage). */
const PUBLISH_LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The collector's own Prometheus series (next to the shared `tributary_kafka_*` ones):
 *
 * - `tributary_collector_source_to_publish_seconds`: processing time from the source emitting a batch to
 *   the brokers acknowledging every record it produced (one observation per batch);
 * - `tributary_collector_updates_total{topic}` and `tributary_collector_updates_per_second`: valid
 *   market events published, and their rate over the last seconds;
 * - `tributary_collector_active_contracts{underlying}`: option contracts selected and subscribed;
 * - `tributary_collector_reconnects_total{connection}`: the broker accepting records again after
 *   failed sends (`broker`), the market source reconnecting (`source`);
 * - `tributary_collector_invalid_records_total{topic}`: records refused by validation and written to
 *   `<topic>.dlq` instead.
 */
export class CollectorMetrics {
  readonly sourceToPublish: Histogram;
  readonly updates: Counter<'topic'>;
  readonly updatesPerSecond: Gauge;
  readonly activeContracts: Gauge<'underlying'>;
  readonly reconnects: Counter<'connection'>;
  readonly invalidRecords: Counter<'topic'>;

  constructor(registry?: Registry) {
    const registers = registry ? [registry] : [];
    this.sourceToPublish = new Histogram({
      name: 'tributary_collector_source_to_publish_seconds',
      help: 'Processing time from the source emitting a batch of market events to the brokers acknowledging all of it',
      buckets: PUBLISH_LATENCY_BUCKETS,
      registers,
    });
    this.updates = new Counter({
      name: 'tributary_collector_updates_total',
      help: 'Valid market events published, per topic',
      labelNames: ['topic'],
      registers,
    });
    this.updatesPerSecond = new Gauge({
      name: 'tributary_collector_updates_per_second',
      help: 'Market events published per second over the last few seconds',
      registers,
    });
    this.activeContracts = new Gauge({
      name: 'tributary_collector_active_contracts',
      help: 'Option contracts selected and subscribed, per underlying',
      labelNames: ['underlying'],
      registers,
    });
    this.reconnects = new Counter({
      name: 'tributary_collector_reconnects_total',
      help: 'Reconnections: the broker accepting records again after failed sends, or the market source reconnecting',
      labelNames: ['connection'],
      registers,
    });
    this.invalidRecords = new Counter({
      name: 'tributary_collector_invalid_records_total',
      help: 'Records refused by validation and written to the dead-letter topic instead, per original topic',
      labelNames: ['topic'],
      registers,
    });
  }
}
