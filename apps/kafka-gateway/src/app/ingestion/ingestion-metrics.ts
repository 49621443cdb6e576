import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { TributaryMetrics } from '@tributary/observability';

export type Transport = 'http' | 'ws';

/** Why events were not landed: bad data (`schema`, `unreadable`) or the gateway's bounds and Kafka. */
export type RejectionReason = 'schema' | 'unreadable' | 'too_large' | 'busy' | 'unavailable';

/**
 * Ingestion metrics per stream (a catalog topic, so the label set is bounded): events accepted and
 * rejected by reason, and the time from handing events to the producer to the brokers' acknowledgement.
 */
@Injectable()
export class IngestionMetrics {
  private readonly events: Counter<'stream' | 'transport' | 'outcome'>;
  private readonly rejected: Counter<'stream' | 'transport' | 'reason'>;
  private readonly ack: Histogram<'stream'>;

  constructor(metrics: TributaryMetrics) {
    this.events = new Counter({
      name: 'tributary_gateway_events_total',
      help: 'Events received by the ingestion endpoints, by stream, transport (http, ws) and outcome (accepted, rejected)',
      labelNames: ['stream', 'transport', 'outcome'],
      registers: [metrics.registry],
    });
    this.rejected = new Counter({
      name: 'tributary_gateway_rejected_events_total',
      help: 'Events not landed, by reason: schema (failed validation), unreadable (not JSON, bad envelope), too_large, busy (in-flight bound), unavailable (Kafka did not acknowledge)',
      labelNames: ['stream', 'transport', 'reason'],
      registers: [metrics.registry],
    });
    this.ack = new Histogram({
      name: 'tributary_gateway_ack_seconds',
      help: 'Time from handing a request\'s events to the producer to the brokers\' acknowledgement (acks=all)',
      labelNames: ['stream'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [metrics.registry],
    });
  }

  accepted(stream: string, transport: Transport, n: number): void {
    if (n > 0) this.events.inc({ stream, transport, outcome: 'accepted' }, n);
  }

  rejectedEvents(stream: string, transport: Transport, reason: RejectionReason, n: number): void {
    if (n <= 0) return;
    this.events.inc({ stream, transport, outcome: 'rejected' }, n);
    this.rejected.inc({ stream, transport, reason }, n);
  }

  /** Starts the acknowledgement timer of one send; call the result when the brokers answered. */
  ackTimer(stream: string): () => void {
    return this.ack.startTimer({ stream });
  }
}
