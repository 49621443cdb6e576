import { DLQ_HEADERS } from '@tributary/contracts';

/** Headers keyed by name: a value, or several when the header repeats (the order they were written in). */
export interface HeaderMap {
  [name: string]: string | Buffer | (string | Buffer)[] | undefined;
}

type RawHeaderValue = HeaderMap[string];

function headerText(raw: RawHeaderValue): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  // A repeated header: the last one wins, as with Java's Headers.lastHeader().
  const last = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (last === undefined || last === null) return undefined;
  return typeof last === 'string' ? last : last.toString('utf8');
}

/** Headers as a fetched record carries them: name and value pairs in the order written (names may repeat). */
export type HeaderPairs = readonly (readonly [Buffer | null, Buffer | null])[];

/** Headers of a record, keyed by name or as the pairs fetched. */
export type RecordHeaders = HeaderMap | HeaderPairs;

const headerNames = new Map<string, Buffer>();

/** A header name as bytes, cached: lookups compare bytes, not decoded strings. */
export function nameBytes(name: string): Buffer {
  let bytes = headerNames.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name);
    if (headerNames.size < 1_000) headerNames.set(name, bytes);
  }
  return bytes;
}

/** One header of a consumed record as UTF-8 text, or undefined when it is absent. */
export function headerValue(headers: RecordHeaders | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined;
  if (!Array.isArray(headers)) return headerText((headers as HeaderMap)[name]);
  const wanted = nameBytes(name);
  // the last one wins, as with Java's Headers.lastHeader()
  for (let index = headers.length - 1; index >= 0; index--) {
    const [key, value] = (headers as HeaderPairs)[index];
    if (key !== null && key.equals(wanted)) return value === null ? undefined : value.toString('utf8');
  }
  return undefined;
}

/** Every header of a consumed record as UTF-8 text. */
export function decodeHeaders(input: RecordHeaders | undefined): Record<string, string> {
  const decoded: Record<string, string> = {};
  if (input === undefined) return decoded;
  const headers = Array.isArray(input) ? headersFromPairs(input as HeaderPairs) : (input as HeaderMap);
  for (const name of Object.keys(headers)) {
    const value = headerText(headers[name]);
    if (value !== undefined) decoded[name] = value;
  }
  return decoded;
}

/** Longest `dlq.reason` written; a long list of validation errors is cut, not the record. */
export const MAX_REASON_LENGTH = 4000;

export interface DeadLetterFailure {
  /** Why the record was given up on: an error message or the validation errors. */
  readonly reason: string;
  /** Class of failure, e.g. "ValidationError", "DeserializationError" or the handler error's name. */
  readonly errorType: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Handler attempts made; 0 when the record was refused before reaching the handler. */
  readonly attempts: number;
  readonly consumerGroup: string;
  readonly failedAt: Date;
}

/**
 * Headers of the copy of a record sent to `<topic>.dlq`: every original header, untouched, plus
 * the DLQ_HEADERS saying why, where from and after how many attempts.
 */
export function deadLetterHeaders(input: RecordHeaders | undefined, failure: DeadLetterFailure): HeaderMap {
  const original = Array.isArray(input) ? headersFromPairs(input as HeaderPairs) : (input as HeaderMap | undefined);
  const reason =
    failure.reason.length > MAX_REASON_LENGTH ? `${failure.reason.slice(0, MAX_REASON_LENGTH - 1)}…` : failure.reason;
  return {
    ...original,
    [DLQ_HEADERS.reason]: reason,
    [DLQ_HEADERS.errorType]: failure.errorType,
    [DLQ_HEADERS.originalTopic]: failure.topic,
    [DLQ_HEADERS.originalPartition]: String(failure.partition),
    [DLQ_HEADERS.originalOffset]: failure.offset,
    [DLQ_HEADERS.attempts]: String(failure.attempts),
    [DLQ_HEADERS.consumerGroup]: failure.consumerGroup,
    [DLQ_HEADERS.failedAt]: failure.failedAt.toISOString(),
  };
}

/** The `dlq.error.type` and `dlq.reason` of whatever a handler threw. */
export function describeHandlerFailure(error: unknown): { errorType: string; reason: string } {
  if (error instanceof Error) {
    return { errorType: error.name || error.constructor.name || 'Error', reason: error.message || String(error) };
  }
  if (typeof error === 'object' && error !== null) {
    const message = (error as { message?: unknown }).message;
    let text: string;
    try {
      text = typeof message === 'string' ? message : JSON.stringify(error);
    } catch {
      text = String(error);
    }
    return { errorType: 'HandlerError', reason: text };
  }
  return { errorType: 'HandlerError', reason: String(error) };
}

/**
 * Headers of a fetched record (name and value pairs, as the broker returns them) keyed by name, as
 * the header helpers take them; a name that repeats keeps all its values.
 */
export function headersFromPairs(pairs: HeaderPairs): HeaderMap {
  const headers: Record<string, Buffer | Buffer[]> = {};
  for (const [name, value] of pairs) {
    if (name === null) continue;
    const key = name.toString();
    const bytes = value ?? Buffer.alloc(0);
    const existing = headers[key];
    if (existing === undefined) headers[key] = bytes;
    else headers[key] = Array.isArray(existing) ? [...existing, bytes] : [existing, bytes];
  }
  return headers;
}
