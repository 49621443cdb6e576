/**
 * Replaying contract values through a compiled rule in process: event times from the catalog (each
 * topic's `eventTime`) on one `EventTimeline`, offsets numbered per topic and partition, and the
 * watermark flushed at the end. For scenario tests, benchmarks and dry runs of a rule.
 */
import { topicSpec } from '@tributary/contracts';
import { CepEngine, type CepMatch, type CepOutput } from '../engine';
import { EventTimeline, type CepRecord } from '../watermark';
import type { AlertDescription, CepEvent, CompiledRule } from './rule';

export interface ReplayInput {
  readonly topic: string;
  readonly value: Readonly<Record<string, unknown>>;
  /** Input partition (default 0). */
  readonly partition?: number;
}

export interface ReplayResult {
  readonly matches: CepMatch<CepEvent>[];
  readonly alerts: (AlertDescription & { readonly key: string })[];
  readonly timeouts: CepOutput<CepEvent>['timeouts'];
  readonly late: CepOutput<CepEvent>['late'];
}

/** Turns contract values into engine records on `timeline`, in the given (arrival) order. */
export function recordsOf(inputs: readonly ReplayInput[], timeline: EventTimeline): CepRecord<CepEvent>[] {
  const offsets = new Map<string, number>();
  return inputs.map(({ topic, value, partition = 0 }) => {
    const spec = topicSpec(topic);
    if (!spec) throw new RangeError(`no topic '${topic}' in the catalog`);
    const slot = `${topic}/${partition}`;
    const offset = offsets.get(slot) ?? 0;
    offsets.set(slot, offset + 1);
    return { topic, partition, offset: String(offset), ts: timeline.toEngineTime(spec.eventTime(value as never)), event: { topic, value } };
  });
}

/** Feeds the records (only those of the rule's inputs, as the service does) and flushes event time at the end. */
export function replayRecords(rule: CompiledRule, records: readonly CepRecord<CepEvent>[]): ReplayResult {
  const engine = new CepEngine<CepEvent>(rule.options);
  const inputs = new Set(rule.inputs);
  for (const record of records) if (inputs.has(record.topic)) engine.ingest(record);
  engine.advanceWatermark(Number.POSITIVE_INFINITY);
  const out = engine.drain();
  return {
    matches: out.matches,
    alerts: out.matches.map((match) => ({ key: match.key, ...rule.describe(match) })),
    timeouts: out.timeouts,
    late: out.late,
  };
}

/** `recordsOf` and `replayRecords` in one step, on a timeline based at the first input's event time. */
export function replayRule(rule: CompiledRule, inputs: readonly ReplayInput[]): ReplayResult {
  if (inputs.length === 0) return { matches: [], alerts: [], timeouts: [], late: [] };
  const first = inputs[0];
  const base = (topicSpec(first.topic)?.eventTime(first.value as never) as string | undefined) ?? '0';
  return replayRecords(rule, recordsOf(inputs, new EventTimeline(base)));
}
