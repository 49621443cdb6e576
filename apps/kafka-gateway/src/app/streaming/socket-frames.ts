import { textDepthBreach } from '@tributary/service';
import { type IncomingEvent, MAX_BODY_DEPTH, readEventBatch, UnreadableBodyError } from '../ingestion/event-batch';
import type { EventResult } from '../ingestion/event-landing';

/** One producer frame: the events it carries and the id its acknowledgement will name. */
export interface ProducerFrame {
  /** The client's `id`, or the frame's sequence number on the connection when it gave none. */
  readonly id: string | number;
  readonly events: readonly IncomingEvent[];
}

/** Longest client message id echoed back. */
const MAX_ID_LENGTH = 200;

function isBatchFrame(value: unknown): value is { id?: unknown; events: unknown } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.includes('events') && keys.every((key) => key === 'id' || key === 'events');
}

/**
 * Reads a WebSocket producer frame: `{"id": "m-1", "events": [<event or {value, idempotencyKey}>...]}`,
 * or, like an HTTP body, one event or an array of events (acknowledged by sequence number).
 * Throws {@link UnreadableBodyError} naming what is wrong with a frame that is not one of these.
 */
export function readProducerFrame(data: Buffer, sequence: number): ProducerFrame {
  const text = data.toString('utf8');
  const tooDeep = textDepthBreach(text, MAX_BODY_DEPTH);
  if (tooDeep !== undefined) throw new UnreadableBodyError(tooDeep.replace('the body', 'the frame'));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UnreadableBodyError(`the frame is not JSON: ${(error as Error).message}`);
  }
  if (!isBatchFrame(parsed)) return { id: sequence, events: readEventBatch(data, 'application/json') };
  const id = parsed.id;
  if (id !== undefined && !((typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH) || (typeof id === 'number' && Number.isFinite(id)))) {
    throw new UnreadableBodyError(`id must be a number or a string of 1 to ${MAX_ID_LENGTH} characters`);
  }
  if (!Array.isArray(parsed.events) || parsed.events.length === 0) throw new UnreadableBodyError('events must be a non-empty array');
  return { id: id ?? sequence, events: readEventBatch(Buffer.from(JSON.stringify(parsed.events)), 'application/json') };
}


/** Server → producer messages; every frame gets exactly one `ack`, `retry` or `error`, in frame order. */
export type ProducerReply =
  /** Every valid event of the frame is acknowledged by the brokers; invalid ones are listed as rejected. */
  | { readonly type: 'ack'; readonly id: string | number; readonly accepted: number; readonly rejected: number; readonly results: readonly EventResult[] }
  /** Nothing of the frame was sent: too much is waiting for Kafka; resend after `retryAfterMs`. */
  | { readonly type: 'retry'; readonly id: string | number; readonly retryAfterMs: number; readonly message: string }
  /** The frame was unreadable (nothing sent), or Kafka did not confirm it (resend with the same idempotency keys). */
  | { readonly type: 'error'; readonly id: string | number | null; readonly message: string };

/** A live record as subscribers receive it. */
export interface LiveRecord {
  readonly type: 'record';
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  /** Broker timestamp, epoch ms. */
  readonly timestamp: string;
  readonly value: unknown;
}

/** Whether a live record passes a subscriber's key filter (the symbols for symbol-keyed streams). */
export function keyFilterOf(keys: string | undefined): ((key: string | null) => boolean) | undefined {
  if (keys === undefined || keys.trim() === '') return undefined;
  const wanted = new Set(keys.split(',').map((key) => key.trim()).filter((key) => key !== ''));
  return (key) => key !== null && wanted.has(key);
}
