import { HEADERS } from '@tributary/contracts';
import {
  type FetchedRecord,
  type KafkaConnection,
  recordHeader,
  recordValueText,
  TopicReader,
} from '@tributary/kafka';
import type { Logger } from 'pino';
import { nanosToMs, type PublishClock } from './publish-clock';
import type { LatencyStage, StageLatencies } from './stage-latencies';

/** The `producer` header values of this run's services: records of anyone else on the shared topics are skipped. */
export interface RunProducers {
  readonly collector: string;
  readonly gateway: string;
  readonly cep: string;
}

/** Enriched quotes are most of the gateway's output: one in this many is timed, which keeps this process light. */
const ENRICHED_SAMPLE_EVERY = 10;

/**
 * Follows the topics the pipeline writes, from their ends, without a consumer group (TopicReader),
 * and notes when each record of this run becomes readable: the collector's trades (the publish
 * clock and the produce-to-readable time), the gateway's validated trades, enriched quotes and 1 s
 * candles, and the CEP engine's alerts, read committed as consumers of alerts must.
 */
export class DownstreamReaders {
  private readers: TopicReader[] = [];
  private alerts = 0;
  private enrichedSeen = 0;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly producers: RunProducers,
    private readonly clock: PublishClock,
    private readonly latencies: StageLatencies,
    private readonly logger: Logger,
  ) {}

  /** Alerts of this run's CEP engine committed and read so far. */
  get alertsRead(): number {
    return this.alerts;
  }

  async start(): Promise<void> {
    this.readers = [
      this.follow('market.trades', this.producers.collector, false, (record, partition, visibleMs) => {
        const eventTime = recordHeader(record, HEADERS.eventTime);
        if (eventTime === undefined) return;
        const publishedMs = Number(record.timestamp);
        this.clock.record(partition, nanosToMs(eventTime), publishedMs);
        this.latencies.observe('collector-kafka', publishedMs, visibleMs);
      }),
      this.followEventTime('market.trades.validated', 'gateway-quality'),
      this.follow(
        'options.quotes.enriched',
        this.producers.gateway,
        false,
        (record, _partition, visibleMs) => {
          if (this.enrichedSeen++ % ENRICHED_SAMPLE_EVERY === 0)
            this.noteEventTime('gateway-enrichment', record, visibleMs);
        },
      ),
      this.followEventTime('candles.1s', 'gateway-candles'),
      this.follow('cep.alerts', this.producers.cep, true, (record, _partition, visibleMs) => {
        this.alerts++;
        const alert = JSON.parse(recordValueText(record) ?? '{}') as { ts?: string };
        if (alert.ts) this.latencies.observeEventTime('cep-alerts', nanosToMs(alert.ts), visibleMs);
      }),
    ];
    await Promise.all(this.readers.map((reader) => reader.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.readers.map((reader) => reader.stop()));
  }

  private followEventTime(topic: string, stage: LatencyStage): TopicReader {
    return this.follow(topic, this.producers.gateway, false, (record, _partition, visibleMs) =>
      this.noteEventTime(stage, record, visibleMs),
    );
  }

  private noteEventTime(stage: LatencyStage, record: FetchedRecord, visibleMs: number): void {
    const eventTime = recordHeader(record, HEADERS.eventTime);
    if (eventTime !== undefined) this.latencies.observeEventTime(stage, nanosToMs(eventTime), visibleMs);
  }

  private follow(
    topic: string,
    producer: string,
    readCommitted: boolean,
    onRecord: (record: FetchedRecord, partition: number, visibleMs: number) => void,
  ): TopicReader {
    return new TopicReader(this.connection, {
      topics: [topic],
      from: 'latest',
      readCommitted,
      maxWaitMs: 50,
      logger: this.logger,
      handle: ({ partition, records }) => {
        const visibleMs = Date.now();
        for (const record of records)
          if (recordHeader(record, HEADERS.producer) === producer) onRecord(record, partition, visibleMs);
      },
    });
  }
}
