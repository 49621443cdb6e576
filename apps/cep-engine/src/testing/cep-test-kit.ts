import { randomBytes } from 'node:crypto';
import { type Alert, type CepSideOutput, HEADERS, type TopicName, topicSpec } from '@tributary/contracts';
import { ClusterAdmin, type FetchedRecord, type KafkaConnection, kafkaConnection, parseKafkaEnv, type RawRecord, TopicReader, TypedProducer } from '@tributary/kafka';
import { createLogger } from '@tributary/observability';
import {
  authorizedFetch,
  eventually,
  unusedPort,
  runKafkaTool,
  type ServiceProcess,
  startService,
  waitForHttpStatus,
} from '@tributary/testing';
import { CepTopics } from '../app/engine/cep-topics';
import { type PartitionCheckpoint, parseCheckpointRecord } from '../app/engine/checkpoint';
import { PartitionProcessor } from '../app/engine/partition-processor';
import { compileRule } from '@tributary/cep';
import type { RuleSpec } from '../app/rules/rule-api';

export const brokers = (): string => process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092';

/** A run-unique name part, so concurrent test runs on this machine never share topics or groups. */
export function runId(label: string): string {
  return `${label}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * How long the engine may take to work through what a test wrote. A transaction left open by a killed
 * instance holds readers back until the broker aborts it (CEP_TRANSACTION_TIMEOUT_MS, 60 s by default).
 */
const ENGINE_CATCH_UP_MS = 120_000;

/** Deterministic pseudo-random numbers (mulberry32), so a failing run can be replayed. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MS = 1_000_000;

/**
 * A document rule over `<prefix>market.trades`: a trade at or above `price`, then (relaxed) a trade of at
 * least `size` shares, within `withinMs`, per symbol. Skip past the last event, so each match stands alone.
 */
export function surgeRule(
  id: string,
  options: { price?: number; size?: number; withinMs?: number; outOfOrdernessMs?: number } = {},
) {
  return {
    id,
    severity: 'warning',
    description: `test surge ${id}`,
    document: {
      inputs: ['market.trades'],
      keyBy: 'symbol',
      outOfOrdernessNs: (options.outOfOrdernessMs ?? 5) * MS,
      pattern: {
        stages: [
          { name: 'move', where: { field: 'price', op: '>=', to: { value: options.price ?? 100 } } },
          {
            name: 'volume',
            contiguity: 'followedBy',
            where: { field: 'size', op: '>=', to: { value: options.size ?? 500 } },
          },
        ],
        within: (options.withinMs ?? 1000) * MS,
        skip: { kind: 'skipPastLastEvent' },
      },
    },
  };
}

/**
 * What a test reader keeps of a topic: each record once per (partition, offset). A record delivered to
 * the reader again (its own consumer group rebalancing, a fetch retried) is the same record, not a
 * second alert; the same alert at two offsets is two records, and `compareAlerts` counts it doubled.
 */
export class RecordLog<T> {
  private readonly seen = new Set<string>();

  constructor(private readonly into: T[]) {}

  /** Adds a record unless this (partition, offset) was added before; returns whether it was new. */
  add(partition: number, offset: string, value: Buffer | null): boolean {
    const position = `${partition}@${offset}`;
    if (this.seen.has(position)) return false;
    this.seen.add(position);
    this.into.push({ ...(JSON.parse(value?.toString() ?? 'null') as T), position } as T);
    return true;
  }
}

/** Everything a test needs around one run of the built service: unique topics, producers, a read-committed reader. */
export class CepTestEnvironment {
  readonly prefix: string;
  readonly group: string;
  readonly connection: KafkaConnection;
  private readonly admin: ClusterAdmin;
  private producer: TypedProducer | undefined;
  private readonly readers: TopicReader[] = [];
  /** How far each reader of {@link follow} got per partition: the last offset fetched, transaction markers included. */
  private readonly readUpTo = new Map<string, Map<number, bigint>>();
  private checkpoints: Map<string, PartitionCheckpoint['offsets']> | undefined;
  readonly services: ServiceProcess[] = [];

  constructor(
    label: string,
    readonly partitions = 4,
  ) {
    const id = runId(label);
    this.prefix = `${id}.`;
    this.group = `${id}-cep`;
    this.connection = kafkaConnection(parseKafkaEnv({ KAFKA_BROKERS: brokers() }), `cep-it-${label}`);
    this.admin = new ClusterAdmin(this.connection);
  }

  topic(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** Creates the prefixed input topics with `partitions` partitions (fewer than the catalog's, for speed). */
  async createInputs(names: readonly (TopicName | `cdc.${string}.${string}`)[]): Promise<void> {
    await this.admin.ensureConfigs(
      names.map((name) => ({
        topic: this.topic(name),
        numPartitions: this.partitions,
        configEntries: [{ name: 'compression.type', value: topicSpec(name)?.compression ?? 'zstd' }],
      })),
    );
  }

  /** Writes records as they are, acknowledged by every in-sync replica, with an idempotent producer. */
  private async send(topic: string, records: readonly RawRecord[]): Promise<void> {
    this.producer ??= new TypedProducer(this.connection, { service: 'cep-it', validate: false, logger: createLogger('cep-it', 'silent') });
    await this.producer.sendRaw(topic, records);
  }

  /** Produces contract values to explicit partitions of a prefixed catalog topic, with the catalog headers. */
  async produce(
    name: string,
    records: readonly { value: Readonly<Record<string, unknown>>; partition: number }[],
  ): Promise<void> {
    const spec = topicSpec(name);
    if (!spec) throw new Error(`${name} is not a catalog topic`);
    await this.send(
      this.topic(name),
      records.map(({ value, partition }) => ({
        key: spec.key(value as never),
        value: JSON.stringify(value),
        partition,
        headers: {
          [HEADERS.schemaName]: spec.event,
          [HEADERS.schemaVersion]: String(spec.version),
          [HEADERS.eventTime]: spec.eventTime(value as never),
          [HEADERS.producer]: 'cep-it/0',
        },
      })),
    );
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      KAFKA_BROKERS: brokers(),
      KAFKA_GROUP_ID: this.group,
      CEP_TOPIC_PREFIX: this.prefix,
      CEP_START_FROM: 'earliest',
      CEP_SEED_DEFAULT_RULES: 'false',
      CEP_COMMIT_INTERVAL_MS: '100ms',
      LOG_LEVEL: 'info',
      ...extra,
    };
  }

  async start(instance: string, extra: Record<string, string> = {}): Promise<ServiceProcess> {
    const port = await unusedPort();
    const service = startService('cep-engine', { port, env: this.env({ INSTANCE_ID: instance, ...extra }) });
    this.services.push(service);
    await waitForHttpStatus(`${service.baseUrl}/health/ready`, 200, 90_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${service.output().slice(-4000)}`);
    });
    return service;
  }

  /** Produces trades as the collector would (key = symbol, catalog headers). */
  async produceTrades(
    trades: readonly { symbol: string; price: number; size: number; ts: string }[],
  ): Promise<void> {
    await this.send(
      this.topic('market.trades'),
      trades.map((trade, index) => {
        const value = {
          symbol: trade.symbol,
          price: trade.price,
          size: trade.size,
          exchange: 'D',
          tradeId: `${trade.ts}-${index}`,
          conditions: ['@'],
          ts: trade.ts,
          tape: 'C',
        };
        return {
          key: trade.symbol,
          value: JSON.stringify(value),
          headers: {
            [HEADERS.schemaName]: 'UnderlyingTrade',
            [HEADERS.schemaVersion]: '1',
            [HEADERS.eventTime]: trade.ts,
            [HEADERS.producer]: 'cep-it/0',
          },
        };
      }),
    );
  }

  /** Reads every partition of a topic from the beginning (read-committed, no consumer group), calling `each` per record. */
  private async read(topic: string, each: (partition: number, record: FetchedRecord) => void, upTo?: Map<number, bigint>): Promise<void> {
    const reader = new TopicReader(this.connection, {
      topics: [topic],
      readCommitted: true,
      handle: (batch) => {
        for (const record of batch.records) each(batch.partition, record);
        // Past the last record the fetch covered, transaction markers included.
        const last = batch.nextOffset - 1n;
        if (upTo && last > (upTo.get(batch.partition) ?? -1n)) upTo.set(batch.partition, last);
      },
    });
    this.readers.push(reader);
    await reader.start();
  }

  /** Reads a topic from the beginning with a read-committed reader into `into`. */
  async follow<T>(name: 'cep.alerts' | 'cep.side-outputs', into: T[]): Promise<void> {
    const upTo = new Map<number, bigint>();
    this.readUpTo.set(this.topic(name), upTo);
    const log = new RecordLog<T>(into);
    await this.read(this.topic(name), (partition, record) => log.add(partition, record.offset.toString(), record.value), upTo);
  }

  followAlerts(into: Alert.Value[]): Promise<void> {
    return this.follow('cep.alerts', into);
  }

  followSideOutputs(into: CepSideOutput.Value[]): Promise<void> {
    return this.follow('cep.side-outputs', into);
  }

  /**
   * Waits until the engine's checkpoints, which it commits in the transactions that write its alerts,
   * cover every record written so far to its `inputs`, then until the reader of {@link followAlerts}
   * has read all of cep.alerts: every alert those records raise is then in the list, and no later one
   * can come. (The group offsets are no such marker: the engine commits them only now and then.)
   */
  async allAlertsRead(inputs: readonly string[]): Promise<void> {
    const checkpoints = await this.followCheckpoints();
    const admin = this.admin;
    for (const topic of inputs.map((name) => this.topic(name))) {
      const ends = await admin.topicOffsets(topic);
      const covered = ({ partition, high }: { partition: number; high: string }) => {
        const positions = [...checkpoints.values()].flatMap(
          (offsets) => offsets[topic]?.[String(partition)] ?? [],
        );
        return positions.length > 0 && positions.every((next) => next === high);
      };
      await eventually(
        () => ends.every((end) => end.high === '0' || covered(end)),
        `the engine's checkpoints to cover every record of ${topic}`,
        ENGINE_CATCH_UP_MS,
      );
    }
    const alerts = this.topic('cep.alerts');
    const upTo = this.readUpTo.get(alerts);
    if (upTo === undefined) throw new Error('no reader follows cep.alerts: call followAlerts first');
    const ends = await admin.topicOffsets(alerts);
    await eventually(
      () =>
        ends.every(
          ({ partition, low, high }) => high === low || (upTo.get(partition) ?? -1n) >= BigInt(high) - 1n,
        ),
      `the reader to reach the end of ${alerts} (${ends.map(({ partition, high }) => `${partition}:${high}`).join(', ')})`,
      ENGINE_CATCH_UP_MS,
    );
  }

  /** The latest committed checkpoint of each slot of the engine: the next input offsets it covers. */
  private async followCheckpoints(): Promise<Map<string, PartitionCheckpoint['offsets']>> {
    if (this.checkpoints !== undefined) return this.checkpoints;
    const latest = new Map<string, PartitionCheckpoint['offsets']>();
    this.checkpoints = latest;
    await this.read(new CepTopics(this.prefix).checkpoints, (_partition, record) => {
      if (record.value === null) return;
      const checkpoint = parseCheckpointRecord(record.value);
      if (checkpoint.kind === 'state' && checkpoint.group === this.group) latest.set(String(checkpoint.partition), checkpoint.offsets);
    });
    return latest;
  }

  /**
   * Every committed alert, as Kafka's own Java consumer reads cep.alerts with isolation.level=read_committed,
   * once {@link allAlertsRead} has returned. The reader of {@link followAlerts} serves the waits; this is
   * the count for tests whose engines abort transactions (an instance killed or replaced): what counts as
   * committed is what the reference client says, not only what our own reader's aborted-transaction
   * filter says.
   */
  async committedAlerts(): Promise<Alert.Value[]> {
    const output = await runKafkaTool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
      '--bootstrap-server',
      brokers(),
      '--topic',
      this.topic('cep.alerts'),
      '--from-beginning',
      '--isolation-level',
      'read_committed',
      // ends the read once nothing more came for this long (the group join included)
      '--timeout-ms',
      '20000',
      '--property',
      'print.partition=true',
      '--property',
      'print.offset=true',
    ]);
    const alerts: Alert.Value[] = [];
    const log = new RecordLog(alerts);
    for (const line of output.split('\n')) {
      const printed = /^Partition:(\d+)\tOffset:(\d+)\t(.*)$/.exec(line);
      if (printed) log.add(Number(printed[1]), printed[2] as string, Buffer.from(printed[3] as string));
    }
    return alerts;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.services.map((service) => service.stop().catch(() => undefined)));
    await Promise.all(this.readers.map((reader) => reader.stop().catch(() => undefined)));
    await this.producer?.disconnect().catch(() => undefined);
    const topics = (await this.admin.listTopics()).filter((topic) => topic.startsWith(this.prefix));
    await this.admin.deleteTopics(topics).catch(() => undefined);
    await this.admin.close();
  }
}

/** Epoch ns of now plus an offset in ms, as a decimal string. */
export function nanosAt(ms: number): string {
  return (BigInt(Math.round(ms * 1000)) * 1000n).toString();
}

export async function postJson(
  url: string,
  method: 'POST' | 'PUT' | 'DELETE',
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await authorizedFetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body: parsed };
}

/**
 * The alert ids an uninterrupted engine computes from exactly the records on `<prefix>market.trades`:
 * every partition replayed in process through the same processor and rules (version 1).
 */
export async function replayAlertIds(env: CepTestEnvironment, rules: readonly object[]): Promise<string[]> {
  const topics = new CepTopics(env.prefix);
  const compiled = rules.map((rule) => compileRule({ ...(rule as RuleSpec), version: 1, enabled: true }));
  const processors = new Map<number, PartitionProcessor>();
  const topic = env.topic('market.trades');
  const admin = new ClusterAdmin(env.connection);
  const ends = await admin.topicOffsets(topic).finally(() => admin.close());
  const seen = new Map<number, bigint>();
  const reader = new TopicReader(env.connection, {
    topics: [topic],
    readCommitted: true,
    handle: ({ partition, records, nextOffset }) => {
      let processor = processors.get(partition);
      if (!processor) {
        processor = new PartitionProcessor({ group: env.group, slot: partition, topics, writer: 'replay', idlePartitionMs: 1e12 }, compiled);
        processors.set(partition, processor);
      }
      for (const record of records) {
        processor.ingest({ topic, partition, offset: record.offset.toString(), key: record.key, value: record.value, headers: record.headers });
      }
      seen.set(partition, nextOffset);
    },
  });
  await reader.start();
  await eventually(() => ends.every(({ partition, high }) => (seen.get(partition) ?? 0n) >= BigInt(high)), 'replay read to the end');
  await reader.stop();
  return [...processors.values()].flatMap((processor) =>
    processor.takeCommit().alerts.map((alert) => alert.alertId),
  );
}

/** Alert ids seen more than once, expected but missing, and seen but not expected. */
export function compareAlerts(alerts: readonly Alert.Value[], expected: readonly string[]) {
  const counts = new Map<string, number>();
  for (const alert of alerts) counts.set(alert.alertId, (counts.get(alert.alertId) ?? 0) + 1);
  const wanted = new Set(expected);
  const missing = expected.filter((id) => !counts.has(id));
  const doubled = [...counts].filter(([, count]) => count > 1).map(([id]) => id);
  if (doubled.length > 0) {
    const positions = alerts
      .filter((alert) => doubled.includes(alert.alertId))
      .map((alert) => `${alert.alertId} ${(alert as { position?: string }).position} ${alert.detectedAt}`);
    process.stderr.write(
      `doubled alerts:\n${positions.join('\n')}\nexpected twice: ${expected.length - wanted.size}\n`,
    );
  }
  return {
    doubled: doubled.length,
    missing: missing.length,
    extra: [...counts.keys()].filter((id) => !wanted.has(id)).length,
    firstMissing: missing.slice(0, 3),
  };
}
