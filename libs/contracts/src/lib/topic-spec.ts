import type { Static, TSchema } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from './field-error';

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';
export type Compression = 'gzip' | 'snappy' | 'lz4' | 'zstd' | 'producer';

/**
 * One entry of the topic catalog: everything a producer, a consumer and the cluster need to agree on.
 *
 * The functions are declared as methods on purpose: method parameters are bivariant in TypeScript, so a
 * precisely typed `TopicSpec<typeof OptionQuote.schema>` is still assignable to a plain `TopicSpec`.
 */
export interface TopicSpec<S extends TSchema = TSchema> {
  /** Kafka topic name. */
  readonly topic: string;
  /** Name of the event schema carried, e.g. "OptionQuote". */
  readonly event: string;
  /** Version of the value schema; bumped on every compatible change (see the README). */
  readonly version: number;
  /** The value schema: TypeScript types, runtime validation and JSON Schema all derive from it. */
  readonly schema: S;
  /** What the record key is, in words (e.g. "underlying symbol"). */
  readonly keyDescription: string;
  /** Derives the record key from a value, so one key always lands in one partition, in order. */
  key(value: Static<S>): string;
  /** Derives the event time (epoch ns, decimal string) from a value. */
  eventTime(value: Static<S>): string;
  /**
   * Semantic checks a JSON Schema cannot express (crossed quotes, impossible dates, event time in the
   * future). Only called on values that already match `schema`.
   */
  invariants?(value: Static<S>, context: ValidationContext): FieldError[];
  readonly partitions: number;
  /** Retention in ms; -1 keeps records forever. */
  readonly retentionMs: number;
  readonly cleanupPolicy: CleanupPolicy;
  readonly compression: Compression;
  /** Whether records that cannot be processed go to `<topic>.dlq`. */
  readonly dlq: boolean;
  readonly description: string;
}
