import { createHash } from 'node:crypto';
import type { CepMatch, CepTimeout, LateRecord, MatchedEvent } from '@tributary/cep';
import { type Alert, type CepSideOutput, topicSpec } from '@tributary/contracts';
import type { CepEvent, CompiledRule } from '../rules/rule-api';

const MAX_EVENTS = 1000;
const MAX_MESSAGE = 1024;

/** Epoch-ns string of an engine time (exact within about 104 days of the timeline base). */
export type ToEpochNanos = (engineTime: number) => string;

/** The event time of a matched event as its contract states it, exactly (no floating point on the way). */
function eventTimeOf(event: MatchedEvent<CepEvent>, toEpochNanos: ToEpochNanos): string {
  const spec = topicSpec(event.event.topic);
  return spec ? spec.eventTime(event.event.value as never) : toEpochNanos(event.ts);
}

function refsOf(events: Record<string, MatchedEvent<CepEvent>[]>, toEpochNanos: ToEpochNanos): Alert.ContributingEvent[] {
  const refs: Alert.ContributingEvent[] = [];
  for (const stage of Object.keys(events)) {
    for (const event of events[stage] ?? []) {
      refs.push({ topic: event.topic, partition: event.partition, offset: event.offset, ts: eventTimeOf(event, toEpochNanos) });
    }
  }
  return refs;
}

/**
 * The identity of a match: rule, version, key and where each contributing event sits in Kafka. The same
 * input replayed (after a crash, or by another instance after a rebalance) gives the same id.
 */
export function alertIdOf(rule: string, version: number, key: string, events: readonly Alert.ContributingEvent[]): string {
  const hash = createHash('sha256');
  hash.update(`${rule}\u0000${version}\u0000${key}`);
  for (const event of events) hash.update(`\u0000${event.topic}\u0001${event.partition}\u0001${event.offset}`);
  return `${rule}:v${version}:${hash.digest('hex').slice(0, 40)}`;
}

function keyOf(key: string): string {
  return key === '' ? '-' : key.slice(0, 256);
}

/** The `cep.alerts` record of a match. */
export function alertOf(rule: CompiledRule, match: CepMatch<CepEvent>, detectedAt: string, toEpochNanos: ToEpochNanos): Alert.Value {
  const refs = refsOf(match.events, toEpochNanos);
  const description = rule.describe(match);
  const last = refs.reduce<Alert.ContributingEvent | undefined>(
    (latest, ref) => (latest === undefined || BigInt(ref.ts) >= BigInt(latest.ts) ? ref : latest),
    undefined,
  );
  const attributes: Record<string, number | string | boolean | null> = {};
  for (const [name, value] of Object.entries(description.attributes)) {
    if (name.length >= 1 && name.length <= 64) attributes[name] = typeof value === 'number' && !Number.isFinite(value) ? null : value;
  }
  attributes['windowStart'] = toEpochNanos(match.windowStart);
  attributes['windowEnd'] = toEpochNanos(match.windowEnd);
  const message = description.message.length > MAX_MESSAGE ? `${description.message.slice(0, MAX_MESSAGE - 1)}…` : description.message;
  return {
    alertId: alertIdOf(rule.spec.id, rule.spec.version, match.key, refs),
    rule: rule.spec.id,
    ruleVersion: rule.spec.version,
    severity: rule.spec.severity,
    key: keyOf(match.key),
    message: message === '' ? rule.spec.id : message,
    ts: last?.ts ?? toEpochNanos(match.lastEventTs),
    detectedAt,
    // The first events of a very long match are dropped from the record (not from its identity).
    events: refs.length > MAX_EVENTS ? refs.slice(refs.length - MAX_EVENTS) : refs,
    attributes,
  };
}

/** The `cep.side-outputs` record of a partial match whose window closed. */
export function timeoutOf(rule: CompiledRule, timeout: CepTimeout<CepEvent>, watermark: string | null, detectedAt: string, toEpochNanos: ToEpochNanos): CepSideOutput.Value {
  const refs = refsOf(timeout.events, toEpochNanos);
  return {
    kind: 'timed-out-match',
    rule: rule.spec.id,
    ruleVersion: rule.spec.version,
    key: keyOf(timeout.key),
    ts: toEpochNanos(timeout.timeoutTs),
    watermark,
    events: refs.length > MAX_EVENTS ? refs.slice(refs.length - MAX_EVENTS) : refs,
    stages: Object.keys(timeout.events).slice(0, 64),
    windowStart: toEpochNanos(timeout.windowStart),
    detectedAt,
  };
}

/** The `cep.side-outputs` record of a record that came behind the watermark beyond the allowed lateness. */
export function lateOf(rule: CompiledRule, late: LateRecord<CepEvent>, detectedAt: string, toEpochNanos: ToEpochNanos): CepSideOutput.Value {
  const { record } = late;
  const spec = topicSpec(record.event.topic);
  const ts = spec ? spec.eventTime(record.event.value as never) : toEpochNanos(record.ts);
  return {
    kind: 'late-event',
    rule: rule.spec.id,
    ruleVersion: rule.spec.version,
    key: keyOf(rule.options.keyBy(record.event)),
    ts,
    watermark: Number.isFinite(late.watermark) ? toEpochNanos(late.watermark) : null,
    events: [{ topic: record.topic, partition: record.partition, offset: record.offset, ts }],
    detectedAt,
  };
}
