import { DLQ_HEADERS, type DlqRecord, dlqTopicOf, isDlqTopic, topicSpec } from '@tributary/contracts';
import { decodeHeaders, type FetchedRecord, type HeaderMap, headersFromPairs, type RecordHeaders } from '@tributary/kafka';

/** Headers a replayed record carries so its consumers (and people) can tell it came back from a DLQ. */
export const REPLAY_HEADERS = {
  /** `<dlq topic>/<partition>/<offset>` of the dead-lettered copy the record was replayed from. */
  replayedFrom: 'dlq.replayed.from',
  /** When it was replayed, ISO-8601 UTC. */
  replayedAt: 'dlq.replayed.at',
} as const;

const DLQ_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(DLQ_HEADERS));

export class DlqRequestError extends Error {
  override readonly name = 'DlqRequestError';
}

/** The DLQ of a topic named in a path: `market.trades` or `market.trades.dlq`; undefined when it has none. */
export function deadLetterTopicOf(name: string): { topic: string; dlqTopic: string } | undefined {
  const original = isDlqTopic(name) ? name.slice(0, -'.dlq'.length) : name;
  const spec = topicSpec(original);
  if (spec === undefined || !spec.dlq) return undefined;
  return { topic: original, dlqTopic: dlqTopicOf(original) };
}

function isUtf8(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes);
}

function intHeader(headers: Record<string, string>, name: string): number {
  const value = Number(headers[name]);
  return Number.isInteger(value) && value >= 0 ? value : 0;
}

/**
 * A record of a `<topic>.dlq` as the inspection API shows it: the original key, value and headers,
 * and why, where from and when it failed (from the `dlq.*` headers). Bytes that are not UTF-8 are
 * shown as base64, so nothing is altered in the showing.
 */
export function dlqRecordOf(dlqTopic: string, partition: number, message: FetchedRecord): DlqRecord.Value {
  const headers = decodeHeaders(message.headers);
  const value = message.value;
  const utf8 = value === null || isUtf8(value);
  const failedAt = headers[DLQ_HEADERS.failedAt];
  return {
    originalTopic: headers[DLQ_HEADERS.originalTopic] ?? dlqTopic.slice(0, -'.dlq'.length),
    partition: intHeader(headers, DLQ_HEADERS.originalPartition),
    offset: /^\d+$/.test(headers[DLQ_HEADERS.originalOffset] ?? '') ? headers[DLQ_HEADERS.originalOffset] : '0',
    key: message.key === null ? null : message.key.toString('utf8'),
    value: value === null ? null : utf8 ? value.toString('utf8') : value.toString('base64'),
    encoding: utf8 ? 'utf8' : 'base64',
    headers,
    reason: headers[DLQ_HEADERS.reason] || '(no dlq.reason header)',
    errorType: headers[DLQ_HEADERS.errorType] || 'Unknown',
    attempts: intHeader(headers, DLQ_HEADERS.attempts),
    consumerGroup: headers[DLQ_HEADERS.consumerGroup] || 'unknown',
    failedAt: failedAt !== undefined && !Number.isNaN(Date.parse(failedAt)) ? new Date(failedAt).toISOString() : new Date(Number(message.timestamp)).toISOString(),
    dlqPartition: partition,
    dlqOffset: message.offset.toString(),
  };
}

/**
 * The headers of a record sent back to its original topic: the original headers as they were before it
 * failed (the `dlq.*` ones removed, `idempotency.key` kept so consumers that saw it once drop it), plus
 * where it was replayed from and when.
 */
export function replayHeaders(headers: RecordHeaders | undefined, from: { dlqTopic: string; partition: number; offset: string }, at: Date): HeaderMap {
  const replayed: HeaderMap = {};
  const original = Array.isArray(headers) ? headersFromPairs(headers) : (headers as HeaderMap | undefined);
  for (const [name, value] of Object.entries(original ?? {})) {
    if (!DLQ_HEADER_NAMES.has(name) && name !== REPLAY_HEADERS.replayedFrom && name !== REPLAY_HEADERS.replayedAt) replayed[name] = value;
  }
  replayed[REPLAY_HEADERS.replayedFrom] = `${from.dlqTopic}/${from.partition}/${from.offset}`;
  replayed[REPLAY_HEADERS.replayedAt] = at.toISOString();
  return replayed;
}

/** Offsets are 64-bit: decimal strings compared as big integers. */
export function parseOffset(text: unknown, what: string): bigint {
  if (typeof text === 'number' && Number.isSafeInteger(text) && text >= 0) return BigInt(text);
  if (typeof text !== 'string' || !/^\d{1,19}$/.test(text)) {
    throw new DlqRequestError(`${what} must be a non-negative integer offset, got ${JSON.stringify(text)}`);
  }
  return BigInt(text);
}

/** Which records of a DLQ partition a replay takes: a list of offsets, or a half-open range [from, to). */
export interface ReplaySelection {
  readonly partition: number;
  readonly offsets?: readonly bigint[];
  readonly fromOffset?: bigint;
  readonly toOffset?: bigint;
}

export const MAX_REPLAY_RECORDS = 10_000;

/** Validates a replay request body, naming the field that is wrong. */
export function parseReplaySelection(body: unknown): ReplaySelection {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new DlqRequestError('the body must be a JSON object: {"offsets": ["12", "15"]} or {"fromOffset": "0", "toOffset": "100"}');
  }
  const fields = body as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!['partition', 'offsets', 'fromOffset', 'toOffset'].includes(name)) throw new DlqRequestError(`unknown field ${name}`);
  }
  const partition = fields['partition'] ?? 0;
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0) {
    throw new DlqRequestError(`partition must be a non-negative integer, got ${JSON.stringify(partition)}`);
  }
  const hasOffsets = fields['offsets'] !== undefined;
  const hasRange = fields['fromOffset'] !== undefined || fields['toOffset'] !== undefined;
  if (hasOffsets === hasRange) throw new DlqRequestError('give either offsets or fromOffset/toOffset');
  if (hasOffsets) {
    const offsets = fields['offsets'];
    if (!Array.isArray(offsets) || offsets.length === 0) throw new DlqRequestError('offsets must be a non-empty array of offsets');
    if (offsets.length > MAX_REPLAY_RECORDS) throw new DlqRequestError(`at most ${MAX_REPLAY_RECORDS} offsets per replay`);
    const parsed = offsets.map((offset, i) => parseOffset(offset, `offsets[${i}]`));
    return { partition, offsets: [...new Set(parsed)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) };
  }
  const fromOffset = parseOffset(fields['fromOffset'] ?? '0', 'fromOffset');
  const toOffset = fields['toOffset'] === undefined ? undefined : parseOffset(fields['toOffset'], 'toOffset');
  if (toOffset !== undefined && toOffset <= fromOffset) throw new DlqRequestError('toOffset must be greater than fromOffset');
  if (toOffset !== undefined && toOffset - fromOffset > BigInt(MAX_REPLAY_RECORDS)) {
    throw new DlqRequestError(`at most ${MAX_REPLAY_RECORDS} records per replay; narrow the range`);
  }
  return { partition, fromOffset, toOffset };
}

/** Whether an offset is part of a selection. */
export function selects(selection: ReplaySelection, offset: bigint): boolean {
  if (selection.offsets !== undefined) return selection.offsets.includes(offset);
  return offset >= (selection.fromOffset ?? 0n) && (selection.toOffset === undefined || offset < selection.toOffset);
}
