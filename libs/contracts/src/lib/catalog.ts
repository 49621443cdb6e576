import type { Static, TSchema } from '@sinclair/typebox';
import {
  Alert,
  Candle,
  CepRule,
  CepSideOutput,
  ChangeEvent,
  DlqRecord,
  EnrichedOptionQuote,
  Execution,
  FeatureVector,
  LateTrade,
  NewsSentiment,
  OptionChainSnapshot,
  OptionFlow,
  OptionQuote,
  OptionTrade,
  OrderBookUpdate,
  Prediction,
  QualityFinding,
  RiskMetric,
  TechnicalSignal,
  TransactionBoundary,
  UnderlyingQuote,
  UnderlyingTrade,
} from './events';
import type { FieldError, ValidationContext } from './field-error';
import { DLQ_SUFFIX, dlqTopicOf } from './headers';
import type { CleanupPolicy, Compression, TopicSpec } from './topic-spec';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * Every topic keyed by symbol has this many partitions. Equal counts (and the default partitioner) put a
 * symbol's quotes, trades, options, book and derived streams in the same partition number everywhere,
 * so event-time joins across them need no repartitioning. Change it for all of them or none.
 */
export const SYMBOL_PARTITIONS = 12;

/** Prefix of the change-event topics the CDC service creates per table: `cdc.<schema>.<table>`. */
export const CDC_TOPIC_PREFIX = 'cdc';

/** What an event folder exports: enough to build its topic spec. */
interface EventContract<S extends TSchema> {
  readonly name: string;
  readonly version: number;
  readonly schema: S;
  readonly keyDescription: string;
  key(value: Static<S>): string;
  eventTime(value: Static<S>): string;
  invariants(value: Static<S>, context: ValidationContext): FieldError[];
}

interface Placement {
  readonly partitions: number;
  readonly retentionMs: number;
  readonly cleanupPolicy: CleanupPolicy;
  readonly compression: Compression;
  readonly dlq: boolean;
  readonly description: string;
}

function topicOf<S extends TSchema>(
  topic: string,
  event: EventContract<S>,
  placement: Placement,
): TopicSpec<S> {
  return Object.freeze({
    topic,
    event: event.name,
    version: event.version,
    schema: event.schema,
    keyDescription: event.keyDescription,
    key: event.key,
    eventTime: event.eventTime,
    invariants: event.invariants,
    ...placement,
  });
}

/** Ticks: high volume, replayable from the archive, so short retention and the cheapest codec to compress. */
const tick = (description: string): Placement => ({
  partitions: SYMBOL_PARTITIONS,
  retentionMs: HOUR_MS,
  cleanupPolicy: 'delete',
  compression: 'lz4',
  dlq: true,
  description,
});

const derived = (retentionMs: number, description: string, partitions = SYMBOL_PARTITIONS): Placement => ({
  partitions,
  retentionMs,
  cleanupPolicy: 'delete',
  compression: 'zstd',
  dlq: true,
  description,
});

function candleTopic(interval: Candle.CandleInterval): TopicSpec<typeof Candle.schema> {
  const spec = topicOf(`candles.${interval}`, Candle, {
    partitions: SYMBOL_PARTITIONS,
    retentionMs: 7 * DAY_MS,
    cleanupPolicy: 'compact,delete',
    compression: 'zstd',
    dlq: true,
    description: `${interval} OHLCV candles from market.trades in event time; the latest revision of each window survives compaction.`,
  });
  return Object.freeze({
    ...spec,
    invariants(value: Candle.Value, context: ValidationContext): FieldError[] {
      const errors = Candle.invariants(value, context);
      if (value.interval !== interval) {
        errors.unshift({
          path: '/interval',
          message: `${value.interval} candle on the ${interval} topic candles.${interval}`,
        });
      }
      return errors;
    },
  });
}

/**
 * The topic catalog: every topic Tributary produces, with its schema, key, partitions, retention,
 * cleanup policy and compression. The kafka-gateway applies it to the cluster; producers and consumers
 * take keys, event times and validation from it. Change topics per table come from `changeEventTopic`.
 */
export const CATALOG = Object.freeze({
  'market.quotes': topicOf(
    'market.quotes',
    UnderlyingQuote,
    tick('NBBO quotes of stocks, ETFs and indices.'),
  ),
  'market.trades': topicOf('market.trades', UnderlyingTrade, tick('Trade prints of stocks and ETFs.')),
  'market.trades.validated': topicOf(
    'market.trades.validated',
    UnderlyingTrade,
    tick(
      'Trade prints of market.trades that passed the gateway data quality checks: schema, duplicates removed, price outliers held back.',
    ),
  ),
  'market.orderbook': topicOf(
    'market.orderbook',
    OrderBookUpdate,
    tick('Level-2 order book snapshots and incremental updates.'),
  ),
  'options.quotes': topicOf(
    'options.quotes',
    OptionQuote,
    tick('NBBO quotes of the selected option contracts.'),
  ),
  'options.quotes.enriched': topicOf(
    'options.quotes.enriched',
    EnrichedOptionQuote,
    tick('Option quotes joined in event time with the underlying price: mid, spread, moneyness, time to expiry.'),
  ),
  'options.trades': topicOf(
    'options.trades',
    OptionTrade,
    tick('Trade prints of the selected option contracts.'),
  ),
  'options.chains': topicOf(
    'options.chains',
    OptionChainSnapshot,
    derived(DAY_MS, 'Option chain snapshots around the money with implied volatility and Greeks.'),
  ),
  'options.flow': topicOf(
    'options.flow',
    OptionFlow,
    derived(DAY_MS, 'Unusual options activity: sweeps, blocks, splits, volume spikes.'),
  ),
  'trading.executions': topicOf(
    'trading.executions',
    Execution,
    derived(30 * DAY_MS, 'Fills of our orders.'),
  ),
  'signals.technical': topicOf(
    'signals.technical',
    TechnicalSignal,
    derived(2 * HOUR_MS, 'Technical indicator values and crossings.'),
  ),
  'ml.features': topicOf(
    'ml.features',
    FeatureVector,
    derived(7 * DAY_MS, 'Model input feature vectors per symbol.'),
  ),
  'ml.predictions': topicOf(
    'ml.predictions',
    Prediction,
    derived(7 * DAY_MS, 'Model predictions per symbol.'),
  ),
  'risk.metrics': topicOf(
    'risk.metrics',
    RiskMetric,
    derived(7 * DAY_MS, 'Risk measurements per account: VaR, exposures, limits.', 6),
  ),
  'news.sentiment': topicOf(
    'news.sentiment',
    NewsSentiment,
    derived(DAY_MS, 'Scored sentiment of news articles and social posts.'),
  ),
  'cep.alerts': topicOf(
    'cep.alerts',
    Alert,
    derived(
      30 * DAY_MS,
      'Pattern matches of the CEP engine, written transactionally (consume with isolation.level=read_committed).',
      6,
    ),
  ),
  'cep.rules': topicOf('cep.rules', CepRule, {
    // Few records, read in full by every CEP instance at start and then followed: one partition keeps
    // the order of changes, compaction keeps the latest version of each rule forever.
    partitions: 1,
    retentionMs: -1,
    cleanupPolicy: 'compact',
    compression: 'zstd',
    dlq: true,
    description: 'Pattern rules of the CEP engine (source of truth, written by its admin endpoints); a tombstone removes a rule.',
  }),
  'cep.side-outputs': topicOf(
    'cep.side-outputs',
    CepSideOutput,
    derived(
      7 * DAY_MS,
      'Late events and timed-out partial matches of the CEP engine, written transactionally with the alerts.',
      6,
    ),
  ),
  'candles.1s': candleTopic('1s'),
  'candles.10s': candleTopic('10s'),
  'candles.1m': candleTopic('1m'),
  'candles.late': topicOf(
    'candles.late',
    LateTrade,
    derived(7 * DAY_MS, 'Trades that came after the allowed lateness of their candle windows, with the windows they missed.'),
  ),
  'quality.events': topicOf(
    'quality.events',
    QualityFinding,
    derived(7 * DAY_MS, 'Findings of the gateway data quality checks: schema failures, duplicates, price outliers, gaps.'),
  ),
  'cdc.transactions': topicOf('cdc.transactions', TransactionBoundary, {
    // One partition: BEGIN/END of all transactions in commit order, like Debezium's transaction topic.
    partitions: 1,
    retentionMs: 90 * DAY_MS,
    cleanupPolicy: 'delete',
    compression: 'zstd',
    dlq: true,
    description: 'BEGIN and END of the captured database transactions (Debezium transaction metadata).',
  }),
});

export type Catalog = typeof CATALOG;
export type TopicName = keyof Catalog;
/** The value type carried by a catalog topic, e.g. `EventOf<'options.quotes'>` is `OptionQuote.Value`. */
export type EventOf<T extends TopicName> = Static<Catalog[T]['schema']>;
export type SchemaOf<T extends TopicName> = Catalog[T]['schema'];

export const TOPIC_NAMES = Object.freeze(Object.keys(CATALOG) as TopicName[]);

export function isTopicName(name: string): name is TopicName {
  return Object.prototype.hasOwnProperty.call(CATALOG, name);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The spec of the change topic `<prefix>.<schema>.<table>` of one table (the catalog's CDC template),
 * keyed by the given primary key columns. Change events are kept 90 days: they are the audit trail and
 * the replay source of the trading tables.
 */
export function changeEventTopic(
  prefix: string,
  schema: string,
  table: string,
  primaryKey: readonly string[] = ['id'],
): TopicSpec<typeof ChangeEvent.schema> {
  for (const [what, name] of [
    ['schema', schema],
    ['table', table],
  ] as const) {
    if (!IDENTIFIER.test(name)) throw new RangeError(`${what} "${name}" is not a plain SQL identifier`);
  }
  const topic = `${prefix}.${schema}.${table}`;
  return Object.freeze({
    topic,
    event: ChangeEvent.name,
    version: ChangeEvent.version,
    schema: ChangeEvent.schema,
    keyDescription: `primary key (${primaryKey.join(', ')}) as a JSON object, e.g. ${JSON.stringify(Object.fromEntries(primaryKey.map((c) => [c, 42])))}`,
    key: ChangeEvent.keyFor(primaryKey),
    eventTime: ChangeEvent.eventTime,
    invariants(value: ChangeEvent.Value, context: ValidationContext): FieldError[] {
      const errors = ChangeEvent.invariants(value, context);
      if (value.source.schema !== schema || value.source.table !== table) {
        errors.unshift({
          path: '/source/table',
          message: `change of ${value.source.schema}.${value.source.table} on the topic of ${schema}.${table} (${topic})`,
        });
      }
      return errors;
    },
    partitions: 6,
    retentionMs: 90 * DAY_MS,
    cleanupPolicy: 'delete',
    compression: 'zstd',
    dlq: true,
    description: `Row changes of ${schema}.${table} (Debezium envelope), in commit order per primary key.`,
  });
}

export function isDlqTopic(name: string): boolean {
  return name.endsWith(DLQ_SUFFIX);
}

/**
 * The dead-letter topic of a topic. It keeps at least a week (so a weekend's failures can be inspected
 * and replayed) and never compacts, so no failure is lost; one partition, as failures are few and
 * replaying them in the order they failed is the expectation.
 */
export function dlqSpecOf(spec: TopicSpec): TopicSpec<typeof DlqRecord.schema> {
  return Object.freeze({
    topic: dlqTopicOf(spec.topic),
    event: DlqRecord.name,
    version: DlqRecord.version,
    schema: DlqRecord.schema,
    keyDescription: DlqRecord.keyDescription,
    key: DlqRecord.key,
    eventTime: DlqRecord.eventTime,
    invariants: DlqRecord.invariants,
    partitions: 1,
    retentionMs: spec.retentionMs < 0 ? -1 : Math.max(spec.retentionMs, 7 * DAY_MS),
    cleanupPolicy: 'delete',
    compression: 'zstd',
    dlq: false,
    description: `Records of ${spec.topic} that could not be processed: original key, value and headers plus dlq.* headers.`,
  });
}

const derivedSpecs = new Map<string, TopicSpec | undefined>();

function deriveSpec(name: string): TopicSpec | undefined {
  if (isDlqTopic(name)) {
    const original = topicSpec(name.slice(0, -DLQ_SUFFIX.length));
    return original?.dlq ? dlqSpecOf(original) : undefined;
  }
  const parts = name.split('.');
  if (
    parts.length === 3 &&
    parts[0] === CDC_TOPIC_PREFIX &&
    IDENTIFIER.test(parts[1]) &&
    IDENTIFIER.test(parts[2])
  ) {
    return changeEventTopic(CDC_TOPIC_PREFIX, parts[1], parts[2]);
  }
  return undefined;
}

/**
 * The spec of any topic Tributary knows: catalog topics, `cdc.<schema>.<table>` change topics (keyed by
 * an `id` primary key; the CDC service builds its own with `changeEventTopic` when a table's key differs)
 * and the `<topic>.dlq` of any of them.
 */
export function topicSpec(name: string): TopicSpec | undefined {
  if (isTopicName(name)) return CATALOG[name];
  let spec = derivedSpecs.get(name);
  if (spec === undefined && !derivedSpecs.has(name)) {
    spec = deriveSpec(name);
    // Names come from outside (HTTP paths, consumed topics); bound what they can make us remember.
    if (derivedSpecs.size >= 10_000) derivedSpecs.clear();
    derivedSpecs.set(name, spec);
  }
  return spec;
}

/** Every topic that must exist on the cluster: the catalog and its DLQs. Change topics are created by the CDC service. */
export function allTopicSpecs(): TopicSpec[] {
  const specs: TopicSpec[] = [];
  for (const name of TOPIC_NAMES) {
    const spec: TopicSpec = CATALOG[name];
    specs.push(spec);
    if (spec.dlq) specs.push(dlqSpecOf(spec));
  }
  return specs;
}

/** Segment roll time: a fraction of the retention, so expired data goes in time; between 10 min and 1 day. */
function segmentMs(retentionMs: number): number {
  return Math.min(DAY_MS, Math.max(10 * MINUTE_MS, Math.floor(retentionMs / 4)));
}

/**
 * Topic-level configs for the admin client (`createTopics({ topics: [{ configEntries }] })`,
 * `alterConfigs`). Beyond retention, cleanup and compression it sets `segment.ms`: the broker deletes
 * and compacts whole closed segments only, and the default 7-day segment would keep a 1-hour topic's
 * data for a week and never compact a young candle topic.
 */
export function kafkaTopicConfig(spec: TopicSpec): { name: string; value: string }[] {
  const config: { name: string; value: string }[] = [
    { name: 'retention.ms', value: String(spec.retentionMs) },
    { name: 'cleanup.policy', value: spec.cleanupPolicy },
    { name: 'compression.type', value: spec.compression },
  ];
  if (spec.cleanupPolicy.includes('compact')) {
    // Revisions stay readable for 5 minutes before compaction may fold them; no key waits more than a day.
    config.push(
      { name: 'segment.ms', value: String(HOUR_MS) },
      { name: 'min.compaction.lag.ms', value: String(5 * MINUTE_MS) },
      { name: 'max.compaction.lag.ms', value: String(DAY_MS) },
      { name: 'min.cleanable.dirty.ratio', value: '0.5' },
    );
  } else if (spec.retentionMs > 0) {
    config.push({ name: 'segment.ms', value: String(segmentMs(spec.retentionMs)) });
  }
  return config;
}
