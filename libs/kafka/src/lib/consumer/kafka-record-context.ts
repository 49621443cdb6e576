import { BaseRpcContext } from '@nestjs/microservices';
import { HEADERS } from '@tributary/contracts';
import { decodeHeaders } from '../record-headers';
import type { FetchedRecord } from './partition-fetcher';
import { recordHeader } from './record-batch-reader';

/**
 * What a handler knows about the record it is given, besides the decoded value:
 * `@EventPattern('market.trades') handle(@Payload() trade: UnderlyingTrade.Value, @Ctx() ctx: KafkaRecordContext)`.
 * Headers and key are decoded on first use only, so handlers that ignore them cost nothing.
 */
export class KafkaRecordContext extends BaseRpcContext<[]> {
  private decodedHeaders?: Record<string, string>;
  private decodedKey?: string | null;
  private offsetText?: string;
  private correlation?: string;
  /** Which attempt of this record the handler is running: 1 the first time, 2 on the first retry. */
  attempt = 1;

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** The record as fetched: raw key, value and header bytes, offset and timestamp. */
    readonly raw: FetchedRecord,
    /** The consumer group handling it. */
    readonly groupId: string,
  ) {
    super([]);
  }

  /** Offset of the record in its partition (a decimal string: offsets exceed 2^53 in principle). */
  get offset(): string {
    this.offsetText ??= this.raw.offset.toString();
    return this.offsetText;
  }

  /** The record key as UTF-8 text; null for a record without key. */
  get key(): string | null {
    if (this.decodedKey === undefined) this.decodedKey = this.raw.key === null ? null : this.raw.key.toString('utf8');
    return this.decodedKey;
  }

  /** Every header as UTF-8 text (the last value wins when a header repeats). */
  get headers(): Readonly<Record<string, string>> {
    this.decodedHeaders ??= decodeHeaders(this.raw.headers);
    return this.decodedHeaders;
  }

  /** One header as text, without decoding the others. */
  header(name: string): string | undefined {
    return this.decodedHeaders ? this.decodedHeaders[name] : recordHeader(this.raw, name);
  }

  /** Event time from the `event.time` header: epoch nanoseconds UTC, decimal. */
  get eventTime(): string | undefined {
    return this.header(HEADERS.eventTime);
  }

  get schemaVersion(): string | undefined {
    return this.header(HEADERS.schemaVersion);
  }

  /** Correlation ID the handler runs under: the record's `correlation.id` header, or a new one when it has none. */
  get correlationId(): string {
    return this.correlation ?? this.header(HEADERS.correlationId) ?? '';
  }

  /** Set by the server: the ID it actually runs the handler with. */
  useCorrelationId(id: string): void {
    this.correlation = id;
  }

  /** Broker or producer timestamp of the record, epoch milliseconds as a string. */
  get timestamp(): string {
    return this.raw.timestamp.toString();
  }
}

/**
 * Context of a batch handler (`@BatchEventPattern`): the partition the records come from and one
 * {@link KafkaRecordContext} per value, created only when asked for.
 */
export class KafkaBatchContext extends BaseRpcContext<[]> {
  private contexts?: (KafkaRecordContext | undefined)[];
  private durable?: Promise<unknown>[];
  /** Which attempt of this batch the handler is running. */
  attempt = 1;

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** The records, in offset order, one per value handed to the handler. */
    readonly records: readonly FetchedRecord[],
    readonly groupId: string,
    private readonly watermark = '',
  ) {
    super([]);
  }

  get size(): number {
    return this.records.length;
  }

  /**
   * For a handler declared with `BatchEventPattern(topic, { deferCommit: true })`: the batch's
   * offsets are committed once `durable` resolves (after those of the partition's earlier
   * batches), not when the handler returns. If it rejects, the partition is fetched again from its
   * first uncommitted record. May be called more than once; the batch waits for every promise.
   */
  commitWhenDurable(durable: Promise<unknown>): void {
    if (this.durable === undefined) {
      throw new Error(`commitWhenDurable: the handler of ${this.topic} was not declared with { deferCommit: true }`);
    }
    durable.catch(() => undefined); // settled by the server; never an unhandled rejection
    this.durable.push(durable);
  }

  /** Set by the server for a deferred-commit handler: where the durability promises are collected. */
  collectDurable(into: Promise<unknown>[]): void {
    this.durable = into;
  }

  /** Offset of the partition's next record not yet written (the high watermark at fetch time). */
  get highWatermark(): string {
    return this.watermark;
  }

  get firstOffset(): string {
    return this.records[0]?.offset.toString() ?? '';
  }

  get lastOffset(): string {
    return this.records[this.records.length - 1]?.offset.toString() ?? '';
  }

  /** The context of the `index`-th value of the batch. */
  record(index: number): KafkaRecordContext {
    this.contexts ??= new Array<KafkaRecordContext | undefined>(this.records.length);
    let context = this.contexts[index];
    if (context === undefined) {
      const record = this.records[index];
      if (record === undefined) throw new RangeError(`no record ${index} in a batch of ${this.records.length}`);
      context = new KafkaRecordContext(this.topic, this.partition, record, this.groupId);
      this.contexts[index] = context;
    }
    return context;
  }
}
