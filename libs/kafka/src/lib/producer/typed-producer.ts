import { hostname } from 'node:os';
import { type CompressionAlgorithmValue, Producer } from '@platformatic/kafka';
import type { Logger } from 'pino';
import type { Static, TSchema } from '@sinclair/typebox';
import {
  type Compression,
  type EventOf,
  HEADERS,
  topicSpec,
  type TopicName,
  type TopicSpec,
  validateEvent,
  ValidationError,
} from '@tributary/contracts';
import { currentCorrelationId, newCorrelationId, type TributaryMetrics } from '@tributary/observability';
import {
  applyBrokerAddress,
  clientOptionsOf,
  connectionError,
  isPermanentConnectionError,
  principalOf,
  withAuthorizationContext,
  type KafkaConnection,
} from '../kafka-connection';
import { backoffMs, BatchProducer } from './batch-producer';
import { KeyPartitioner, partitionOfKey } from './partitioner';
import { type ExtraHeader, HeaderTemplate } from './record-batch';
import { type RecordSink, RequestAccumulator } from './request-accumulator';

/** A value with the record details a caller may set; anything left out comes from the catalog. */
export interface OutgoingRecord<V> {
  readonly value: V;
  /** Record key; default: the catalog's key function of the value. */
  readonly key?: string;
  /** Extra headers. They cannot replace the schema, event-time, producer or correlation headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Default: the current correlation ID (`runWithCorrelationId`), else a new one for this call. */
  readonly correlationId?: string;
  /** Stable identity of the event, so consumers can drop redeliveries (`idempotency.key` header). */
  readonly idempotencyKey?: string;
}

/**
 * A record of a spec'd topic whose value the caller serialised itself (e.g. once, for Kafka and an
 * audit table): the producer adds the contract headers from the spec and the fields given here.
 */
export interface EncodedRecord {
  readonly key: string | null;
  /** The serialised value; null writes a tombstone. */
  readonly value: string | Buffer | null;
  /** Event time, epoch ns as a decimal string (`event.time` header); left out when undefined. */
  readonly eventTime?: string;
  /** Default: the current correlation ID, else a new one for this call. */
  readonly correlationId?: string;
  readonly idempotencyKey?: string;
  /** Further headers of this record (not the contract headers). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A record written exactly as given (DLQ, replay, topics outside the catalog). */
export interface RawRecord {
  readonly key?: string | Buffer | null;
  readonly value: string | Buffer | null;
  /** A header may repeat: an array value writes one header per item. */
  readonly headers?: Readonly<Record<string, string | Buffer | readonly (string | Buffer)[] | undefined>>;
  /** Milliseconds since the epoch, as a string; default: now. */
  readonly timestamp?: string;
  /** Default: the partition of the key (murmur2, as the Java client), any partition without one. */
  readonly partition?: number;
}

export interface TypedProducerOptions {
  /** Service name, the first half of the `producer` header. */
  readonly service: string;
  /** Instance name, the second half of the `producer` header; default INSTANCE_ID, HOSTNAME or the host name. */
  readonly instanceId?: string;
  /** How long concurrent sends are gathered into one request; default 5 ms. */
  readonly lingerMs?: number;
  /** Largest request; default 1 000 000 bytes (below the broker's default message.max.bytes). */
  readonly maxBatchBytes?: number;
  /** Check every event against the catalog schema before sending; default on (KAFKA_VALIDATE_EVENTS). */
  readonly validate?: boolean;
  /**
   * How long a request keeps being tried while the brokers refuse it with a retriable error or
   * cannot be reached, before its calls reject (Java's delivery.timeout.ms); default 30 s.
   */
  readonly deliveryTimeoutMs?: number;
  readonly metrics?: TributaryMetrics;
  readonly logger?: Logger;
}

const COMPRESSION: Readonly<Record<Compression, CompressionAlgorithmValue>> = {
  gzip: 'gzip',
  snappy: 'snappy',
  lz4: 'lz4',
  zstd: 'zstd',
  producer: 'none',
};

/** The record-batch codec of a catalog compression setting ('producer' leaves batches uncompressed). */
export function compressionOf(compression: Compression | undefined): CompressionAlgorithmValue {
  return compression === undefined ? 'none' : COMPRESSION[compression];
}

/** How often a topic's partition count is read again, so added partitions get records. */
const PARTITIONS_MAX_AGE_MS = 60_000;
const ENVELOPE_KEYS = new Set(['value', 'key', 'headers', 'correlationId', 'idempotencyKey']);
/** Headers a caller's own headers cannot replace. */
const RESERVED_HEADERS = new Set<string>([
  HEADERS.schemaName,
  HEADERS.schemaVersion,
  HEADERS.producer,
  HEADERS.eventTime,
  HEADERS.correlationId,
  HEADERS.idempotencyKey,
]);

/** What the producer keeps per catalog topic so writing a record costs no lookups. */
interface TopicWriter {
  readonly spec: TopicSpec;
  readonly compression: CompressionAlgorithmValue;
  /** Schema name and version and the producer, encoded once; event time, correlation ID and idempotency key vary. */
  readonly headers: HeaderTemplate;
  /** True when the event schema itself has a top-level `value` field (so `{ value }` may be an event). */
  readonly valueIsField: boolean;
}

function isEnvelope(item: unknown, writer: TopicWriter): boolean {
  if (typeof item !== 'object' || item === null || !Object.prototype.hasOwnProperty.call(item, 'value')) return false;
  if (!writer.valueIsField) return true;
  return Object.keys(item).every((key) => ENVELOPE_KEYS.has(key));
}

/** Partition count of a topic, and the calls waiting for it. */
interface TopicPartitions {
  partitioner?: KeyPartitioner;
  fetchedAt: number;
  refreshing?: Promise<void>;
  /** Calls waiting for the first count; later calls queue behind them to keep the call order. */
  waiting: number;
  ready?: Promise<KeyPartitioner>;
  /** Next partition for records without a key. */
  roundRobin: number;
}

/** One record, checked and serialised, on its way into a batch. */
interface Prepared {
  key: string;
  value: string;
  eventTime: string | undefined;
  correlationId: string;
  idempotencyKey: string | undefined;
  extra: ExtraHeader[] | undefined;
}

/**
 * The producer every Tributary service writes with. Values are JSON, keys and headers come from
 * the topic catalog, and many concurrent `send` calls travel in one request:
 *
 * ```ts
 * await producer.send('options.quotes', quotes);                    // keys, headers from the catalog
 * await producer.send('cep.alerts', [{ value: alert, idempotencyKey: alert.alertId }]);
 * ```
 *
 * Records are written straight into the Kafka record batch of their partition as `send` is called
 * (constant headers copied from a per-topic template, see {@link RecordBatchWriter}); a request
 * leaves when its linger elapses, when it holds `maxBatchBytes`, or when the previous one comes
 * back. The producer is idempotent with acks=all ({@link BatchProducer}): a retried request never
 * writes a record twice, and requests go out one at a time, so each partition keeps the order of
 * the calls. Keys are placed as the Java client places them. `send` resolves once the brokers have
 * the records.
 */
export class TypedProducer {
  readonly producerId: string;
  private readonly client: Producer;
  private readonly batches: BatchProducer;
  private readonly accumulator: RequestAccumulator;
  private readonly writers = new Map<string, TopicWriter>();
  private readonly specWriters = new WeakMap<TopicSpec, TopicWriter>();
  private readonly partitions = new Map<string, TopicPartitions>();
  private readonly validate: boolean;
  private readonly deliveryTimeoutMs: number;
  private connecting?: Promise<void>;
  private closing?: Promise<void>;

  constructor(
    private readonly connection: KafkaConnection,
    private readonly options: TypedProducerOptions,
  ) {
    const instance = options.instanceId ?? process.env['INSTANCE_ID'] ?? process.env['HOSTNAME'] ?? hostname();
    this.producerId = `${options.service}/${instance}`;
    this.validate = options.validate ?? true;
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? 30_000;
    this.client = applyBrokerAddress(new Producer(clientOptionsOf(connection)), connection);
    this.batches = new BatchProducer(this.client, {
      principal: principalOf(connection),
      requestTimeoutMs: connection.requestTimeoutMs,
      deliveryTimeoutMs: this.deliveryTimeoutMs,
      onRetry: (failure) =>
        options.logger?.warn(failure, 'the broker refused a batch for now; sending it again'),
    });
    this.accumulator = new RequestAccumulator(
      (parts) => this.batches.send(parts),
      { lingerMs: options.lingerMs ?? 5, maxBatchBytes: options.maxBatchBytes ?? 1_000_000 },
    );
  }

  /** Produce requests and records sent so far: records per request is the batching achieved. */
  get stats(): { readonly requests: number; readonly records: number } {
    return this.accumulator.stats;
  }

  /** Connects now rather than on the first send (sends connect by themselves); rejects when no broker answers. */
  connect(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the producer is disconnected'));
    this.connecting ??= this.batches.connect().catch((error: unknown) => {
      this.connecting = undefined; // the next send tries again
      throw connectionError(this.connection, 'connecting the producer to the Kafka cluster', error);
    });
    return this.connecting;
  }

  /**
   * Writes events to a catalog topic and resolves once all are acknowledged by the brokers.
   * Rejects without writing anything when an event fails the catalog schema (with validation on).
   */
  send<T extends TopicName>(
    topic: T,
    events: readonly EventOf<T>[] | readonly OutgoingRecord<EventOf<T>>[],
  ): Promise<void> {
    let writer: TopicWriter;
    try {
      writer = this.writerOf(topic);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.write(writer, events);
  }

  /**
   * {@link send} for a topic described by its own spec rather than a catalog name: the per-table
   * change topics of `changeEventTopic(...)`, or a catalog entry under another name.
   */
  sendTo<S extends TSchema>(
    spec: TopicSpec<S>,
    events: readonly Static<S>[] | readonly OutgoingRecord<Static<S>>[],
  ): Promise<void> {
    let writer = this.specWriters.get(spec);
    if (writer === undefined) {
      writer = this.writerFor(spec);
      this.specWriters.set(spec, writer);
    }
    return this.write(writer, events);
  }

  /**
   * Writes records whose values the caller serialised (and checked) itself to a spec'd topic, with
   * the contract headers: schema name and version and producer from the spec's template, event
   * time, correlation ID and idempotency key per record. Nothing is validated or serialised here.
   */
  sendEncoded(spec: TopicSpec, records: readonly EncodedRecord[]): Promise<void> {
    const topic = spec.topic;
    if (this.closing) return Promise.reject(new Error(`cannot send to ${topic}: the producer is disconnected`));
    if (records.length === 0) return Promise.resolve();
    let writer = this.specWriters.get(spec);
    if (writer === undefined) {
      writer = this.writerFor(spec);
      this.specWriters.set(spec, writer);
    }
    const { headers, compression } = writer;
    const callCorrelationId = currentCorrelationId() ?? newCorrelationId();
    return this.whenPartitioned(topic, records.length, (partitioner, state) =>
      this.accumulator.write(topic, compression, (sink) => {
        const now = Date.now();
        const varying: (string | undefined)[] = [undefined, undefined, undefined];
        for (const record of records) {
          const partition =
            record.key === null ? state.roundRobin++ % partitioner.partitions : partitioner.partitionOf(record.key);
          varying[0] = record.eventTime;
          varying[1] = record.correlationId ?? callCorrelationId;
          varying[2] = record.idempotencyKey;
          sink.add(partition, record.key, record.value, now, headers, varying, ownHeaders(record.headers));
        }
      }),
    );
  }

  /**
   * Writes ready-made records (DLQ, replay, topics outside the catalog): value, key and headers
   * go out exactly as given. Compression follows the catalog when it knows the topic.
   */
  sendRaw(topic: string, records: readonly RawRecord[], compression?: Compression): Promise<void> {
    if (this.closing) return Promise.reject(new Error(`cannot send to ${topic}: the producer is disconnected`));
    if (records.length === 0) return Promise.resolve();
    return this.whenPartitioned(topic, records.length, (partitioner, state) =>
      this.accumulator.write(topic, compressionOf(compression ?? topicSpec(topic)?.compression), this.rawWriter(records, partitioner, state)),
    );
  }

  /**
   * {@link sendRaw}, resolving with where each record went (its partition and offset), in the order
   * given: for callers that report it (a DLQ replay says where each record landed).
   */
  sendRawWithOffsets(topic: string, records: readonly RawRecord[], compression?: Compression): Promise<{ partition: number; offset: bigint }[]> {
    if (this.closing) return Promise.reject(new Error(`cannot send to ${topic}: the producer is disconnected`));
    if (records.length === 0) return Promise.resolve([]);
    return this.whenPartitioned(topic, records.length, (partitioner, state) =>
      this.accumulator.writeReporting(topic, compressionOf(compression ?? topicSpec(topic)?.compression), this.rawWriter(records, partitioner, state)),
    );
  }

  private rawWriter(
    records: readonly RawRecord[],
    partitioner: KeyPartitioner,
    state: { roundRobin: number },
  ): (sink: RecordSink) => void {
    return (sink) => {
      const now = Date.now();
      for (const record of records) {
        const key = record.key ?? null;
        const partition =
          record.partition ??
          (key === null
            ? state.roundRobin++ % partitioner.partitions
            : typeof key === 'string'
              ? partitioner.partitionOf(key)
              : partitionOfKey(key, partitioner.partitions));
        const timestamp = record.timestamp === undefined ? now : Number(record.timestamp);
        sink.add(partition, key, record.value, timestamp, undefined, undefined, headerList(record.headers));
      }
    };
  }

  /** Sends whatever is waiting now and resolves once every request in flight has come back. */
  flush(): Promise<void> {
    return this.accumulator.flush();
  }

  /** Flushes, then disconnects; later sends reject. */
  disconnect(): Promise<void> {
    this.closing ??= (async () => {
      await this.flush();
      await this.client.close();
    })();
    return this.closing;
  }

  private writerOf(topic: string): TopicWriter {
    let writer = this.writers.get(topic);
    if (writer === undefined) {
      const spec = topicSpec(topic);
      if (spec === undefined) throw new Error(`${topic} is not in the topic catalog; use sendTo or sendRaw`);
      writer = this.writerFor(spec);
      this.writers.set(topic, writer);
    }
    return writer;
  }

  private writerFor(spec: TopicSpec): TopicWriter {
    const properties = (spec.schema as { properties?: Record<string, unknown> }).properties ?? {};
    return {
      spec,
      compression: compressionOf(spec.compression),
      headers: new HeaderTemplate(
        {
          [HEADERS.schemaVersion]: String(spec.version),
          [HEADERS.schemaName]: spec.event,
          [HEADERS.producer]: this.producerId,
        },
        [HEADERS.eventTime, HEADERS.correlationId, HEADERS.idempotencyKey],
      ),
      valueIsField: Object.prototype.hasOwnProperty.call(properties, 'value'),
    };
  }

  private write(writer: TopicWriter, events: readonly unknown[]): Promise<void> {
    const topic = writer.spec.topic;
    if (this.closing) return Promise.reject(new Error(`cannot send to ${topic}: the producer is disconnected`));
    if (events.length === 0) return Promise.resolve();
    let prepared: Prepared[];
    try {
      prepared = this.prepare(topic, writer, events);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.whenPartitioned(topic, prepared.length, (partitioner) =>
      this.accumulator.write(topic, writer.compression, (sink) => {
        const now = Date.now();
        const varying: (string | undefined)[] = [undefined, undefined, undefined];
        for (const record of prepared) {
          varying[0] = record.eventTime;
          varying[1] = record.correlationId;
          varying[2] = record.idempotencyKey;
          sink.add(partitioner.partitionOf(record.key), record.key, record.value, now, writer.headers, varying, record.extra);
        }
      }),
    );
  }

  /** Checks and serialises every event first, so a refused one leaves nothing of its call written. */
  private prepare(topic: string, writer: TopicWriter, events: readonly unknown[]): Prepared[] {
    const { spec } = writer;
    const envelopes = isEnvelope(events[0], writer);
    // One correlation ID for the whole call unless a record names its own.
    const callCorrelationId = currentCorrelationId() ?? newCorrelationId();
    const prepared = new Array<Prepared>(events.length);
    for (let index = 0; index < events.length; index++) {
      const record = envelopes ? (events[index] as OutgoingRecord<unknown>) : undefined;
      const value = record ? record.value : events[index];
      if (this.validate) {
        const result = validateEvent(spec, value);
        if (!result.ok) throw new ValidationError(result.errors, topic);
      }
      const extra = ownHeaders(record?.headers);
      prepared[index] = {
        key: record?.key ?? spec.key(value),
        value: JSON.stringify(value),
        eventTime: spec.eventTime(value),
        correlationId: record?.correlationId ?? callCorrelationId,
        idempotencyKey: record?.idempotencyKey,
        extra,
      };
    }
    return prepared;
  }

  /**
   * Runs `write` once the topic's partition count is known, keeping the order of the calls: the
   * first calls for a topic wait for its metadata, later ones queue behind them. Counts the records
   * in the service's metrics once they are written.
   */
  private whenPartitioned<T>(
    topic: string,
    records: number,
    write: (partitioner: KeyPartitioner, state: TopicPartitions) => Promise<T>,
  ): Promise<T> {
    let state = this.partitions.get(topic);
    if (state === undefined) {
      state = { fetchedAt: 0, waiting: 0, roundRobin: Math.floor(Math.random() * 1_000) };
      this.partitions.set(topic, state);
    }
    const known = state;
    const counted = (result: T): T => {
      this.options.metrics?.kafkaProduced(topic, records);
      return result;
    };
    if (known.partitioner !== undefined && known.waiting === 0) {
      if (Date.now() - known.fetchedAt > PARTITIONS_MAX_AGE_MS) this.refreshPartitions(topic, known);
      return write(known.partitioner, known).then(counted);
    }
    known.ready ??= this.fetchPartitions(topic, known);
    known.waiting++;
    return known.ready
      .then(
        (partitioner) => {
          known.waiting--;
          if (this.closing) throw new Error(`cannot send to ${topic}: the producer is disconnected`);
          return write(partitioner, known);
        },
        (error: unknown) => {
          known.waiting--;
          throw error;
        },
      )
      .then(counted);
  }

  /**
   * The topic's partition count, asked again while no broker answers, until the delivery timeout;
   * refused credentials or an untrusted certificate fail at once.
   */
  private async fetchPartitions(topic: string, state: TopicPartitions): Promise<KeyPartitioner> {
    const deadline = Date.now() + this.deliveryTimeoutMs;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.connect();
          const partitioner = new KeyPartitioner(await this.batches.partitionCount(topic));
          state.partitioner = partitioner;
          state.fetchedAt = Date.now();
          return partitioner;
        } catch (error) {
          const delay = backoffMs(attempt);
          if (this.closing || isPermanentConnectionError(error) || Date.now() + delay >= deadline) {
            throw withAuthorizationContext(this.connection, `write topic ${topic}`, error);
          }
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    } finally {
      // A failed lookup is tried again by the next call.
      state.ready = undefined;
    }
  }

  /** Reads the partition count again in the background; records keep flowing meanwhile. */
  private refreshPartitions(topic: string, state: TopicPartitions): void {
    if (state.refreshing) return;
    state.fetchedAt = Date.now();
    state.refreshing = this.batches
      .partitionCount(topic, true)
      .then((count) => {
        if (count !== state.partitioner?.partitions) state.partitioner = new KeyPartitioner(count);
      })
      .catch((error: unknown) => this.options.logger?.warn({ err: error, topic }, 'reading the partition count failed'))
      .finally(() => (state.refreshing = undefined));
  }
}

/** A record's own headers as (name, value) pairs, without the contract headers. */
function ownHeaders(headers: Readonly<Record<string, string>> | undefined): ExtraHeader[] | undefined {
  if (headers === undefined) return undefined;
  let list: ExtraHeader[] | undefined;
  for (const name of Object.keys(headers)) {
    const header = headers[name];
    if (RESERVED_HEADERS.has(name) || header === undefined) continue;
    (list ??= []).push([name, header]);
  }
  return list;
}

/** A raw record's headers as (name, value) pairs; array values become repeated headers. */
function headerList(headers: RawRecord['headers']): ExtraHeader[] | undefined {
  if (headers === undefined) return undefined;
  const list: ExtraHeader[] = [];
  for (const name of Object.keys(headers)) {
    const header = headers[name];
    if (header === undefined) continue;
    if (typeof header === 'string' || Buffer.isBuffer(header)) list.push([name, header]);
    else for (const item of header as readonly (string | Buffer)[]) list.push([name, item]);
  }
  return list;
}
