import { hostname } from 'node:os';
import {
  CompressionTypes,
  type IHeaders,
  type Kafka,
  type Message,
  Partitioners,
  type Producer,
  type ProducerConfig,
} from 'kafkajs';
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
import { KAFKA_CLIENT_RETRY } from '../kafka-client';
import { type CoalescedRequest, SendCoalescer } from './send-coalescer';

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

export interface TypedProducerOptions {
  /** Service name, the first half of the `producer` header. */
  readonly service: string;
  /** Instance name, the second half of the `producer` header; default INSTANCE_ID, HOSTNAME or the host name. */
  readonly instanceId?: string;
  /** How long concurrent sends are gathered into one request; default 5 ms. */
  readonly lingerMs?: number;
  /** Largest request; default 1 000 000 bytes (below the broker's default message.max.bytes). */
  readonly maxBatchBytes?: number;
  /** Check every event against the catalog schema before sending; default on outside production. */
  readonly validate?: boolean;
  readonly metrics?: TributaryMetrics;
  readonly logger?: Logger;
  /** Extra kafkajs producer settings (e.g. `transactionalId` is NOT supported here: use a plain producer). */
  readonly producerConfig?: Omit<ProducerConfig, 'idempotent' | 'transactionalId'>;
}

const COMPRESSION_TYPES: Readonly<Record<Compression, CompressionTypes>> = {
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
  producer: CompressionTypes.None,
};

/** The kafkajs codec of a catalog compression setting ('producer' leaves batches uncompressed). */
export function compressionTypeOf(compression: Compression | undefined): CompressionTypes {
  return compression === undefined ? CompressionTypes.None : COMPRESSION_TYPES[compression];
}

function isUnknownTopic(error: unknown): boolean {
  for (let cause = error as { type?: string; cause?: unknown } | undefined; cause; cause = cause.cause as typeof cause) {
    if (cause.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
  }
  return false;
}

const ENVELOPE_KEYS = new Set(['value', 'key', 'headers', 'correlationId', 'idempotencyKey']);

/** What the producer keeps per topic so sending a message costs no lookups. */
interface TopicWriter {
  readonly spec: TopicSpec;
  readonly compression: CompressionTypes;
  /** Header values that never change for a topic, encoded once: kafkajs copies buffers as they are. */
  readonly schemaVersion: Buffer;
  readonly schemaName: Buffer;
  /** True when the event schema itself has a top-level `value` field (so `{ value }` may be an event). */
  readonly valueIsField: boolean;
}

function writerFor(spec: TopicSpec): TopicWriter {
  const properties = (spec.schema as { properties?: Record<string, unknown> }).properties ?? {};
  return {
    spec,
    compression: compressionTypeOf(spec.compression),
    schemaVersion: Buffer.from(String(spec.version)),
    schemaName: Buffer.from(spec.event),
    valueIsField: Object.prototype.hasOwnProperty.call(properties, 'value'),
  };
}

function isEnvelope(item: unknown, writer: TopicWriter): boolean {
  if (typeof item !== 'object' || item === null || !Object.prototype.hasOwnProperty.call(item, 'value')) return false;
  if (!writer.valueIsField) return true;
  return Object.keys(item).every((key) => ENVELOPE_KEYS.has(key));
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
 * The kafkajs producer underneath is idempotent with acks=all, so a retried request never writes
 * a record twice, and requests go out one at a time per producer, so each partition keeps the
 * order of the calls. `send` resolves once the brokers have the records.
 */
export class TypedProducer {
  readonly producerId: string;
  private readonly producerIdBytes: Buffer;
  /** Produce requests and records sent so far: records per request is the batching achieved. */
  readonly stats = { requests: 0, records: 0 };
  private producer: Producer;
  private readonly producerConfig: ProducerConfig;
  private readonly coalescer: SendCoalescer;
  private readonly writers = new Map<string, TopicWriter>();
  private readonly specWriters = new WeakMap<TopicSpec, TopicWriter>();
  private readonly validate: boolean;
  private connecting?: Promise<void>;
  private closing?: Promise<void>;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: TypedProducerOptions,
  ) {
    const instance = options.instanceId ?? process.env['INSTANCE_ID'] ?? process.env['HOSTNAME'] ?? hostname();
    this.producerId = `${options.service}/${instance}`;
    this.producerIdBytes = Buffer.from(this.producerId);
    this.validate = options.validate ?? process.env['NODE_ENV'] !== 'production';
    this.producerConfig = {
      // Murmur2 on the key, as the Java client: one key lands in the same partition whatever wrote it.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      ...options.producerConfig,
      idempotent: true,
      maxInFlightRequests: Math.min(5, options.producerConfig?.maxInFlightRequests ?? 5),
      retry: { ...KAFKA_CLIENT_RETRY, ...options.producerConfig?.retry },
    };
    this.producer = kafka.producer(this.producerConfig);
    this.coalescer = new SendCoalescer((request) => this.sendRequest(request), {
      lingerMs: options.lingerMs ?? 5,
      maxBatchBytes: options.maxBatchBytes ?? 1_000_000,
    });
  }

  /** Connects now rather than on the first send (sends connect by themselves). */
  connect(): Promise<void> {
    if (this.closing) return Promise.reject(new Error('the producer is disconnected'));
    this.connecting ??= this.producer.connect().catch((error: unknown) => {
      this.connecting = undefined; // the next send tries again
      throw error;
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
      writer = writerFor(spec);
      this.specWriters.set(spec, writer);
    }
    return this.write(writer, events);
  }

  private write(writer: TopicWriter, events: readonly unknown[]): Promise<void> {
    const topic = writer.spec.topic;
    if (this.closing) return Promise.reject(new Error(`cannot send to ${topic}: the producer is disconnected`));
    if (events.length === 0) return Promise.resolve();
    let messages: Message[];
    try {
      messages = this.encode(topic, writer, events);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.coalescer.enqueue(topic, writer.compression, messages).then(() => {
      this.options.metrics?.kafkaProduced(topic, messages.length);
    });
  }

  /**
   * Writes ready-made records (DLQ, replay, topics outside the catalog): value, key and headers
   * go out exactly as given. Compression follows the catalog when it knows the topic.
   */
  sendRaw(topic: string, messages: Message[], compression?: Compression): Promise<void> {
    if (this.closing) return Promise.reject(new Error(`cannot send to ${topic}: the producer is disconnected`));
    const codec = compressionTypeOf(compression ?? topicSpec(topic)?.compression);
    return this.coalescer.enqueue(topic, codec, messages).then(() => {
      this.options.metrics?.kafkaProduced(topic, messages.length);
    });
  }

  /** Sends whatever is waiting now and resolves once every request in flight has come back. */
  flush(): Promise<void> {
    return this.coalescer.flush();
  }

  /** Flushes, then disconnects; later sends reject. */
  disconnect(): Promise<void> {
    this.closing ??= (async () => {
      await this.coalescer.flush();
      if (this.connecting) await this.producer.disconnect();
    })();
    return this.closing;
  }

  private writerOf(topic: string): TopicWriter {
    let writer = this.writers.get(topic);
    if (writer === undefined) {
      const spec = topicSpec(topic);
      if (spec === undefined) throw new Error(`${topic} is not in the topic catalog; use sendTo or sendRaw`);
      writer = writerFor(spec);
      this.writers.set(topic, writer);
    }
    return writer;
  }

  private encode(topic: string, writer: TopicWriter, events: readonly unknown[]): Message[] {
    const { spec, schemaVersion, schemaName } = writer;
    const producer = this.producerIdBytes;
    const envelopes = isEnvelope(events[0], writer);
    // One correlation ID for the whole call unless a record names its own: encoded once.
    const callCorrelationId = Buffer.from(currentCorrelationId() ?? newCorrelationId());
    const messages = new Array<Message>(events.length);
    for (let index = 0; index < events.length; index++) {
      const record = envelopes ? (events[index] as OutgoingRecord<unknown>) : undefined;
      const value = record ? record.value : events[index];
      if (this.validate) {
        const result = validateEvent(spec, value);
        if (!result.ok) throw new ValidationError(result.errors, topic);
      }
      const headers: IHeaders = {
        [HEADERS.schemaVersion]: schemaVersion,
        [HEADERS.schemaName]: schemaName,
        [HEADERS.eventTime]: spec.eventTime(value),
        [HEADERS.producer]: producer,
        [HEADERS.correlationId]: record?.correlationId ?? callCorrelationId,
      };
      if (record !== undefined) {
        if (record.idempotencyKey !== undefined) headers[HEADERS.idempotencyKey] = record.idempotencyKey;
        if (record.headers !== undefined) {
          for (const name of Object.keys(record.headers)) headers[name] ??= record.headers[name];
        }
      }
      messages[index] = {
        key: record?.key ?? spec.key(value),
        value: JSON.stringify(value),
        headers,
      };
    }
    return messages;
  }

  private async sendRequest(request: CoalescedRequest): Promise<void> {
    await this.connect();
    const batch = { topicMessages: request.topicMessages, compression: request.compression, acks: -1 };
    this.stats.requests++;
    this.stats.records += request.messageCount;
    try {
      await this.producer.sendBatch(batch);
    } catch (error) {
      if (!isUnknownTopic(error)) throw error;
      // kafkajs refreshes the metadata of every topic a producer ever wrote to, and fails every send
      // once one of them was deleted. A fresh client forgets them; the request is tried once more.
      this.options.logger?.warn({ err: error }, 'a topic this producer wrote to is gone; reconnecting');
      await this.replaceProducer();
      await this.producer.sendBatch(batch);
    }
  }

  private async replaceProducer(): Promise<void> {
    const previous = this.producer;
    this.producer = this.kafka.producer(this.producerConfig);
    this.connecting = undefined;
    await previous.disconnect().catch(() => undefined);
    await this.connect();
  }
}
