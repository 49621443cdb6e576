import { CATALOG, CDC_TOPIC_PREFIX, dlqSpecOf, TOPIC_NAMES, type TopicName } from './catalog';
import { dlqTopicOf } from './headers';
import type { TopicSpec } from './topic-spec';

/**
 * Which Kafka resources each service may touch, in one place: the local broker's SCRAM users and
 * ACLs are generated from it (tools/infra), and so can a cluster's user resources (Strimzi
 * KafkaUser). Each service is its own principal, `User:<service name>`. Group and transactional ids
 * follow the services' `KAFKA_GROUP_ID` defaults; a deployment that changes one changes it here too.
 *
 * A new topic: add it to the catalog, then to `produces` of its writers and `consumes` of its readers
 * (and `deadLetters` of the readers that send its bad records to `<topic>.dlq`). The unit test of this
 * file fails while a catalog topic has no writer or a name here is not a catalog topic.
 */

export const KAFKA_SERVICES = [
  'options-collector',
  'kafka-gateway',
  'cdc-listener',
  'cep-engine',
  'historical-data-manager',
] as const;
export type KafkaService = (typeof KAFKA_SERVICES)[number];

/** A Kafka resource name: the exact name, or every name that starts with it. */
export interface ResourceName {
  readonly name: string;
  readonly patternType: 'literal' | 'prefix';
}

const literal = (name: string): ResourceName => ({ name, patternType: 'literal' });
const prefix = (name: string): ResourceName => ({ name, patternType: 'prefix' });

/** The change topics of the CDC service, `cdc.<schema>.<table>` and `cdc.transactions`: one family, matched by prefix. */
export const CHANGE_TOPIC_PREFIX = `${CDC_TOPIC_PREFIX}.`;

/** The schema and tables the CDC service captures by default (its `CDC_SCHEMA` and `CDC_TABLES`). */
export const TRADING_SCHEMA = 'trading';
export const TRADING_TABLES = [
  'trades',
  'positions',
  'orders',
  'order_fills',
  'risk_limits',
  'model_predictions',
  'features',
  'alerts',
] as const;

/** What one service does on Kafka. */
export interface ServiceKafkaAccess {
  /** Catalog topics it writes. */
  readonly produces: readonly TopicName[];
  /** Catalog topics it reads. */
  readonly consumes: readonly TopicName[];
  /** Catalog topics whose dead letters (`<topic>.dlq`) it writes: records it could not process or produce. */
  readonly deadLetters: readonly TopicName[];
  /** Topics outside the catalog that only this service reads and writes (its own state). */
  readonly stateTopics?: readonly string[];
  /** Writes (and creates) the change topics `cdc.*`. */
  readonly producesChangeTopics?: boolean;
  /**
   * Reads the change topics `cdc.*`, and writes the dead letters of the default captured tables'
   * topics (a prefix cannot name `cdc.<schema>.<table>.dlq` without granting the change topics too).
   */
  readonly consumesChangeTopics?: boolean;
  /** Consumer groups it joins or commits offsets for. */
  readonly groups: readonly ResourceName[];
  /** Transactional ids of its transactional producers. */
  readonly transactionalIds?: readonly ResourceName[];
  /** Applies the catalog to the cluster: creates, describes and alters the configs of, and adds partitions to, every catalog topic and DLQ. */
  readonly appliesCatalog?: boolean;
  /** Inspects and purges every catalog dead-letter topic (read, delete records). */
  readonly managesDeadLetters?: boolean;
}

/** Topics outside producers send to the gateway over HTTP and WebSocket (`POST /v1/streams/:stream/events`). */
export const INGESTED_TOPICS = [
  'market.quotes',
  'market.trades',
  'market.orderbook',
  'options.quotes',
  'options.trades',
  'trading.executions',
  'signals.technical',
  'ml.features',
  'ml.predictions',
  'risk.metrics',
  'news.sentiment',
] as const satisfies readonly TopicName[];

/**
 * Catalog topics a CEP rule may name as input (besides the change topics): the built-in rules' inputs
 * and the market streams. A rule over another topic needs it here first.
 */
export const CEP_INPUT_TOPICS = [
  'market.quotes',
  'market.trades',
  'market.trades.validated',
  'options.quotes',
  'options.quotes.enriched',
  'options.trades',
  'options.chains',
  'options.flow',
  'candles.1s',
  'candles.10s',
  'candles.1m',
  'news.sentiment',
] as const satisfies readonly TopicName[];

const COLLECTED_TOPICS = [
  'market.quotes',
  'market.trades',
  'options.quotes',
  'options.trades',
  'options.chains',
  'options.flow',
] as const satisfies readonly TopicName[];

export const SERVICE_KAFKA_ACCESS: Readonly<Record<KafkaService, ServiceKafkaAccess>> = Object.freeze({
  'options-collector': {
    produces: COLLECTED_TOPICS,
    // On a restart with SIMULATOR_RESUME it reads back the last quotes it wrote (without a group).
    consumes: ['market.quotes'],
    deadLetters: COLLECTED_TOPICS,
    groups: [],
  },
  'kafka-gateway': {
    produces: [
      ...INGESTED_TOPICS,
      'market.trades.validated',
      'quality.events',
      'options.quotes.enriched',
      'candles.1s',
      'candles.10s',
      'candles.1m',
      'candles.late',
    ],
    // Live WebSocket fan-out of any catalog stream; quality checks, candles and enrichment read the raw topics.
    consumes: TOPIC_NAMES,
    // Trades the quality checks and candles reject; quotes the enrichment cannot join.
    deadLetters: ['market.trades', 'market.trades.validated', 'market.quotes', 'options.quotes'],
    groups: [
      // KAFKA_GROUP_ID and the groups derived from it: -candles, -enrichment, -quality
      prefix('tributary-kafka-gateway'),
      // one short-lived group per live WebSocket stream
      prefix('tributary-gateway-live-'),
    ],
    appliesCatalog: true,
    managesDeadLetters: true,
  },
  'cdc-listener': {
    produces: ['cdc.transactions'],
    consumes: [],
    deadLetters: [],
    producesChangeTopics: true,
    groups: [],
  },
  'cep-engine': {
    produces: ['cep.alerts', 'cep.side-outputs', 'cep.rules'],
    consumes: ['cep.rules', ...CEP_INPUT_TOPICS],
    deadLetters: CEP_INPUT_TOPICS,
    stateTopics: ['cep.checkpoints'],
    consumesChangeTopics: true,
    // KAFKA_GROUP_ID (partitioned rules) and <KAFKA_GROUP_ID>.global (global rules)
    groups: [prefix('tributary-cep-engine')],
    // <KAFKA_GROUP_ID>.<slot>: one transactional producer per input partition and one for the global rules
    transactionalIds: [prefix('tributary-cep-engine.')],
  },
  'historical-data-manager': {
    // ARCHIVE_TOPICS may name any catalog topic; the archive is the replay source of all of them.
    consumes: TOPIC_NAMES,
    produces: [],
    deadLetters: TOPIC_NAMES.filter((name) => CATALOG[name].dlq),
    consumesChangeTopics: true,
    groups: [literal('tributary-historical-data-manager')],
  },
});

/** Kafka ACL operations, spelled as Kafka and Strimzi spell them. */
export type KafkaOperation =
  | 'Read'
  | 'Write'
  | 'Create'
  | 'Delete'
  | 'Alter'
  | 'Describe'
  | 'AlterConfigs'
  | 'DescribeConfigs'
  | 'IdempotentWrite';
export type KafkaResourceType = 'topic' | 'group' | 'transactionalId' | 'cluster';

/** One allow rule of a principal (the shape of a Strimzi KafkaUser ACL). */
export interface KafkaAcl {
  readonly resource: { readonly type: KafkaResourceType } & ResourceName;
  readonly operations: readonly KafkaOperation[];
}

const OPERATION_ORDER: readonly KafkaOperation[] = [
  'Read',
  'Write',
  'Create',
  'Delete',
  'Alter',
  'Describe',
  'AlterConfigs',
  'DescribeConfigs',
  'IdempotentWrite',
];

/** Every catalog topic and its DLQ. */
function catalogAndDeadLetters(): string[] {
  return TOPIC_NAMES.flatMap((name) => (CATALOG[name].dlq ? [name, dlqTopicOf(name)] : [name]));
}

/** The catalog DLQs. */
function catalogDeadLetters(): string[] {
  return TOPIC_NAMES.filter((name) => CATALOG[name].dlq).map((name) => dlqTopicOf(name));
}

/** The default captured tables' change topics' DLQs. */
function changeTopicDeadLetters(): string[] {
  return TRADING_TABLES.map((table) => dlqTopicOf(`${CDC_TOPIC_PREFIX}.${TRADING_SCHEMA}.${table}`));
}

/**
 * The allow rules of a service's principal, one per resource, sorted. Reading, writing and dead
 * letters come with Describe (offsets, metadata) and Create (a service creates the catalog topics it
 * uses when they are missing, with the catalog's settings).
 */
export function kafkaAclsOf(service: KafkaService): KafkaAcl[] {
  const access = SERVICE_KAFKA_ACCESS[service];
  const rules = new Map<string, { resource: KafkaAcl['resource']; operations: Set<KafkaOperation> }>();
  const allow = (
    type: KafkaResourceType,
    name: ResourceName,
    operations: readonly KafkaOperation[],
  ): void => {
    const key = `${type}\u0000${name.patternType}\u0000${name.name}`;
    const rule = rules.get(key) ?? { resource: { type, ...name }, operations: new Set<KafkaOperation>() };
    for (const operation of operations) rule.operations.add(operation);
    rules.set(key, rule);
  };
  const topics = (names: readonly string[], operations: readonly KafkaOperation[]) => {
    for (const name of names) allow('topic', literal(name), operations);
  };
  topics(access.produces, ['Write', 'Describe', 'Create']);
  topics(access.consumes, ['Read', 'Describe', 'Create']);
  topics(access.deadLetters.map(dlqTopicOf), ['Write', 'Describe', 'Create']);
  topics(access.stateTopics ?? [], ['Read', 'Write', 'Describe', 'Create']);
  if (access.producesChangeTopics)
    allow('topic', prefix(CHANGE_TOPIC_PREFIX), ['Write', 'Describe', 'Create']);
  if (access.consumesChangeTopics) {
    allow('topic', prefix(CHANGE_TOPIC_PREFIX), ['Read', 'Describe']);
    topics(changeTopicDeadLetters(), ['Write', 'Describe', 'Create']);
  }
  if (access.appliesCatalog)
    topics(catalogAndDeadLetters(), ['Create', 'Describe', 'Alter', 'DescribeConfigs', 'AlterConfigs']);
  if (access.managesDeadLetters) topics(catalogDeadLetters(), ['Read', 'Describe', 'Delete']);
  for (const group of access.groups) allow('group', group, ['Read', 'Describe']);
  for (const id of access.transactionalIds ?? []) allow('transactionalId', id, ['Write', 'Describe']);

  const typeOrder: readonly KafkaResourceType[] = ['cluster', 'topic', 'group', 'transactionalId'];
  return [...rules.values()]
    .map(({ resource, operations }) => ({
      resource,
      operations: OPERATION_ORDER.filter((operation) => operations.has(operation)),
    }))
    .sort(
      (a, b) =>
        typeOrder.indexOf(a.resource.type) - typeOrder.indexOf(b.resource.type) ||
        a.resource.patternType.localeCompare(b.resource.patternType) ||
        a.resource.name.localeCompare(b.resource.name),
    );
}

/**
 * The specs of the catalog topics a service writes, with their DLQs: what it may create at start-up
 * when the gateway has not applied the catalog yet.
 */
export function producedTopicSpecs(service: KafkaService): TopicSpec[] {
  return SERVICE_KAFKA_ACCESS[service].produces.flatMap((name) => {
    const spec: TopicSpec = CATALOG[name];
    return spec.dlq ? [spec, dlqSpecOf(spec)] : [spec];
  });
}

/** Services that write a catalog topic (through the change-topic prefix for `cdc.*`). */
export function producersOf(topic: string): KafkaService[] {
  return KAFKA_SERVICES.filter((service) => {
    const access = SERVICE_KAFKA_ACCESS[service];
    return (
      (access.produces as readonly string[]).includes(topic) ||
      (access.producesChangeTopics === true && topic.startsWith(CHANGE_TOPIC_PREFIX))
    );
  });
}
