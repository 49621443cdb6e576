import { DEFAULT_JSON_LIMITS, textDepthBreach } from '@tributary/service';
/** One event of a request body, before validation. */
export interface IncomingEvent {
  /** Position in the request: array index or NDJSON line (0-based, blank lines not counted). */
  readonly index: number;
  readonly value: unknown;
  /** Carried as the `idempotency.key` Kafka header, so consumers drop a resent event. */
  readonly idempotencyKey?: string;
  /** Set when the item itself could not be read (an NDJSON line that is not JSON, a bad envelope). */
  readonly unreadable?: string;
}

export class UnreadableBodyError extends Error {
  override readonly name = 'UnreadableBodyError';
}

const ENVELOPE_KEYS = new Set(['value', 'idempotencyKey']);
const MAX_IDEMPOTENCY_KEY_LENGTH = 200;

/** An item `{ "value": <event>, "idempotencyKey": "..." }` (an event's own fields never are exactly these). */
function isEnvelope(item: unknown): item is { value: unknown; idempotencyKey?: unknown } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return false;
  const keys = Object.keys(item);
  return keys.includes('value') && keys.includes('idempotencyKey') && keys.every((key) => ENVELOPE_KEYS.has(key));
}

function checkedKey(key: unknown): string | { error: string } {
  if (typeof key !== 'string' || key.trim() === '') return { error: 'idempotencyKey must be a non-empty string' };
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) return { error: `idempotencyKey is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters` };
  return key;
}

function eventOf(index: number, item: unknown): IncomingEvent {
  if (!isEnvelope(item)) return { index, value: item };
  const key = checkedKey(item.idempotencyKey);
  if (typeof key !== 'string') return { index, value: item.value, unreadable: key.error };
  return { index, value: item.value, idempotencyKey: key };
}

/** Nesting a body may have: an array of envelopes around events that nest a few levels themselves. */
export const MAX_BODY_DEPTH = DEFAULT_JSON_LIMITS.maxDepth;

/**
 * The events of a request body: a JSON object (one event), a JSON array (many) or NDJSON
 * (`application/x-ndjson`, one event per line). Each item is an event or an envelope
 * `{ value, idempotencyKey }`; `headerKey` (the `Idempotency-Key` header) applies to a single
 * event only. A body that is not JSON at all throws {@link UnreadableBodyError}; an NDJSON line
 * that is not JSON spoils only that line.
 */
export function readEventBatch(body: Buffer, contentType: string | undefined, headerKey?: string): IncomingEvent[] {
  const text = body.toString('utf8');
  const mediaType = (contentType ?? 'application/json').split(';', 1)[0].trim().toLowerCase();
  // Before any parsing: a document nested thousands of levels deep is refused by name instead of
  // overflowing the stack of the parser or the schema check.
  const tooDeep = textDepthBreach(text, MAX_BODY_DEPTH);
  if (tooDeep !== undefined) throw new UnreadableBodyError(tooDeep);

  if (mediaType === 'application/x-ndjson') {
    if (headerKey !== undefined) throw new UnreadableBodyError('Idempotency-Key applies to a single JSON event; give NDJSON lines an idempotencyKey envelope');
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    if (lines.length === 0) throw new UnreadableBodyError('the body holds no event');
    return lines.map((line, index) => {
      try {
        return eventOf(index, JSON.parse(line));
      } catch (error) {
        return { index, value: undefined, unreadable: `line ${index + 1} is not JSON: ${(error as Error).message}` };
      }
    });
  }

  if (mediaType !== 'application/json') {
    throw new UnreadableBodyError(`unsupported content type ${mediaType}: send application/json or application/x-ndjson`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UnreadableBodyError(`the body is not JSON: ${(error as Error).message}`);
  }
  if (Array.isArray(parsed)) {
    if (headerKey !== undefined) throw new UnreadableBodyError('Idempotency-Key applies to a single event; give array items an idempotencyKey envelope');
    if (parsed.length === 0) throw new UnreadableBodyError('the body holds no event');
    return parsed.map((item, index) => eventOf(index, item));
  }
  const event = eventOf(0, parsed);
  if (headerKey === undefined || event.unreadable !== undefined) return [event];
  const key = checkedKey(headerKey);
  if (typeof key !== 'string') throw new UnreadableBodyError(key.error.replace('idempotencyKey', 'Idempotency-Key'));
  if (event.idempotencyKey !== undefined && event.idempotencyKey !== key) {
    throw new UnreadableBodyError('the Idempotency-Key header and the envelope idempotencyKey differ');
  }
  return [{ ...event, idempotencyKey: key }];
}
