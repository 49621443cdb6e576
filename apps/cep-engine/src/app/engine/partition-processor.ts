import { CepEngine, EventTimeline } from '@tributary/cep';
import { type Alert, type CepSideOutput, decodeEvent, dlqTopicOf, HEADERS, ValidationError } from '@tributary/contracts';
import { deadLetterHeaders, type HeaderMap, headerValue, type RecordHeaders } from '@tributary/kafka';
import type { CepEvent, CompiledRule } from '../rules/rule-api';
import { alertOf, lateOf, timeoutOf } from './alert-factory';
import type { CepTopics } from './cep-topics';
import { GLOBAL_SLOT, type InputOffsets, type PartitionCheckpoint, type RuleCheckpoint, type Slot } from './checkpoint';

/** One consumed record. */
export interface InputRecord {
  /** Cluster topic name. */
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: RecordHeaders;
  /** The `schema.version` header, when the reader looked it up already (without decoding every header). */
  readonly schemaVersion?: string;
}

export interface DeadLetter {
  readonly topic: string;
  /** The input record as it was, with the DLQ headers saying why. */
  readonly message: { readonly key: Buffer | null; readonly value: Buffer | null; readonly headers: HeaderMap };
}

/** Everything one Kafka transaction of a partition writes, taken at one point of the input. */
export interface CommitUnit {
  readonly slot: Slot;
  readonly alerts: Alert.Value[];
  readonly sideOutputs: CepSideOutput.Value[];
  readonly deadLetters: DeadLetter[];
  /** Next offset per input topic and partition: sent to the group with the transaction and kept in the checkpoint. */
  readonly offsets: InputOffsets;
  readonly checkpoint: PartitionCheckpoint;
  /** `checkpoint` as JSON, what the checkpoint topic gets (unchanged rules' parts reused from the previous commit). */
  readonly checkpointJson: string;
  /** Input records applied since the previous unit. */
  readonly records: number;
}

export interface PartitionProcessorOptions {
  readonly group: string;
  /**
   * The partition number N (this processor owns partition N of every input topic of its rules), or
   * `global` (it owns every partition of its rules' inputs).
   */
  readonly slot: Slot;
  readonly topics: CepTopics;
  /** `service/instance`, written into checkpoints. */
  readonly writer: string;
  /** Processing-time silence after which an input partition no longer holds the watermark back. */
  readonly idlePartitionMs: number;
  /** Idle-key TTL for rules that set none (event-time nanoseconds). */
  readonly idleKeyTtlNs?: number;
  readonly now?: () => number;
  /** Told how many partial matches a rule's engine dropped at CEP_MAX_PARTIAL_MATCHES_PER_KEY (for the metric). */
  readonly onPartialMatchesDropped?: (rule: string, count: number) => void;
}

interface RuleRunner {
  readonly rule: CompiledRule;
  readonly engine: CepEngine<CepEvent>;
  /** Catalog topics the rule reads. */
  readonly inputs: ReadonlySet<string>;
  /**
   * The engine's last snapshot and its JSON, while the engine has not changed since: a commit
   * serialises only the rules that received records (or had a partition go idle) since the previous one.
   */
  saved?: { readonly checkpoint: RuleCheckpoint; readonly json: string };
}

export type IngestResult = 'applied' | 'skipped' | 'dead-lettered';

/** Is offset a before offset b (64-bit decimal strings without leading zeros)? */
export function offsetBefore(a: string, b: string): boolean {
  return a.length !== b.length ? a.length < b.length : a < b;
}

function describeFailure(error: unknown): { errorType: string; reason: string } {
  if (error instanceof Error) return { errorType: error.name || 'Error', reason: error.message || String(error) };
  return { errorType: 'Error', reason: String(error) };
}

function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

function nanosNow(nowMs: number): string {
  return (BigInt(Math.round(nowMs * 1000)) * 1000n).toString();
}

/**
 * Runs the rules of one slot (partition N of their input topics, or all partitions for the global rules),
 * one `CepEngine` per rule, so changing a
 * rule replaces that engine alone. Pure and synchronous: the Kafka side feeds it records, takes a
 * `CommitUnit` (alerts, side outputs, dead letters, offsets and the checkpoint, all of the same point
 * of the input) and writes it in one transaction.
 *
 * A record below the next expected offset of its topic is skipped: it is already in the state (the
 * group re-delivers from its committed offset after a rebalance, which may lag this processor).
 */
export class PartitionProcessor {
  readonly slot: Slot;
  private readonly runners = new Map<string, RuleRunner>();
  /** Next expected offset per input topic, indexed by partition. */
  private readonly positions = new Map<string, (string | undefined)[]>();
  /** Processing time of the last record per input topic and partition, and whether it went idle. */
  private readonly lastSeenMs = new Map<string, (number | undefined)[]>();
  private readonly idle = new Set<string>();
  private timeline: EventTimeline | undefined;
  private alerts: Alert.Value[] = [];
  private sideOutputs: CepSideOutput.Value[] = [];
  private deadLetters: DeadLetter[] = [];
  private records = 0;
  private readonly now: () => number;

  constructor(
    private readonly options: PartitionProcessorOptions,
    rules: readonly CompiledRule[],
    checkpoint?: PartitionCheckpoint,
  ) {
    this.slot = options.slot;
    this.now = options.now ?? Date.now;
    if (checkpoint) {
      for (const [topic, byPartition] of Object.entries(checkpoint.offsets)) {
        const list: (string | undefined)[] = [];
        for (const [partition, offset] of Object.entries(byPartition)) list[Number(partition)] = offset;
        this.positions.set(topic, list);
      }
      if (checkpoint.timelineBase !== null) this.timeline = new EventTimeline(checkpoint.timelineBase);
    }
    for (const rule of rules) {
      const saved = checkpoint?.rules[rule.spec.id];
      const options = this.engineOptions(rule);
      const engine = saved && saved.version === rule.spec.version ? CepEngine.restore(options, saved.snapshot) : new CepEngine(options);
      this.runners.set(rule.spec.id, { rule, engine, inputs: new Set(rule.inputs) });
    }
  }

  /** Next offset this processor expects per input topic and partition. */
  get offsets(): InputOffsets {
    const out: Record<string, Record<string, string>> = {};
    for (const [topic, list] of this.positions) {
      const byPartition: Record<string, string> = {};
      list.forEach((offset, partition) => {
        if (offset !== undefined) byPartition[String(partition)] = offset;
      });
      out[topic] = byPartition;
    }
    return out;
  }

  /** Next offset expected on a partition of an input topic (undefined before its first record or checkpoint). */
  position(topic: string, partition: number): string | undefined {
    return this.positions.get(topic)?.[partition];
  }

  /** Is this the processor of every partition of its inputs (the global rules)? */
  get isGlobal(): boolean {
    return this.slot === GLOBAL_SLOT;
  }

  /** True when alerts wait for a transaction (so it should commit now rather than at the next interval). */
  get hasAlerts(): boolean {
    return this.alerts.length > 0;
  }

  /** True when any output (alerts, side outputs, dead letters) waits for a transaction. */
  get hasOutput(): boolean {
    return this.alerts.length > 0 || this.sideOutputs.length > 0 || this.deadLetters.length > 0;
  }

  get pendingRecords(): number {
    return this.records;
  }

  /** Per rule: version, inputs and state size. */
  stats(): { rule: string; version: number; keys: number; partialMatches: number; bufferedRecords: number; watermark: string | null }[] {
    return [...this.runners.values()].map(({ rule, engine }) => {
      const stats = engine.stats();
      return {
        rule: rule.spec.id,
        version: rule.spec.version,
        keys: stats.keys,
        partialMatches: stats.partialMatches,
        bufferedRecords: stats.bufferedRecords,
        watermark: this.timeline && Number.isFinite(stats.watermark) ? this.timeline.toEpochNanos(stats.watermark) : null,
      };
    });
  }

  /**
   * Replaces the engines of rules whose version changed, adds new rules and drops removed or disabled
   * ones; every other rule keeps its state.
   */
  setRules(rules: readonly CompiledRule[]): void {
    const wanted = new Map(rules.map((rule) => [rule.spec.id, rule]));
    for (const [id, runner] of this.runners) {
      const next = wanted.get(id);
      if (next === undefined || next.spec.version !== runner.rule.spec.version) {
        this.collectRunner(runner, nanosNow(this.now()));
        this.runners.delete(id);
      }
    }
    for (const rule of rules) {
      if (this.runners.has(rule.spec.id)) continue;
      this.runners.set(rule.spec.id, { rule, engine: new CepEngine(this.engineOptions(rule)), inputs: new Set(rule.inputs) });
    }
  }

  /** Applies one record of an input topic (partition N, or any partition for the global slot). */
  ingest(record: InputRecord): IngestResult {
    let positions = this.positions.get(record.topic);
    if (positions === undefined) this.positions.set(record.topic, (positions = []));
    const position = positions[record.partition];
    if (position !== undefined && offsetBefore(record.offset, position)) return 'skipped';
    positions[record.partition] = nextOffset(record.offset);
    let seen = this.lastSeenMs.get(record.topic);
    if (seen === undefined) this.lastSeenMs.set(record.topic, (seen = []));
    seen[record.partition] = this.now();
    if (this.idle.size > 0) this.idle.delete(`${record.topic}/${record.partition}`);
    this.records++;

    const spec = this.options.topics.specOf(record.topic);
    const catalogTopic = this.options.topics.catalogName(record.topic);
    if (spec === undefined || catalogTopic === undefined) {
      this.deadLetter(record, 'UnknownTopicError', `${record.topic} is not a catalog topic`);
      return 'dead-lettered';
    }
    let value: Record<string, unknown>;
    try {
      value = decodeEvent(spec, record.value, { schemaVersion: 'schemaVersion' in record ? record.schemaVersion : headerValue(record.headers, HEADERS.schemaVersion) }) as Record<string, unknown>;
    } catch (error) {
      const failure = error instanceof ValidationError ? { errorType: 'ValidationError', reason: error.message } : describeFailure(error);
      this.deadLetter(record, failure.errorType, failure.reason);
      return 'dead-lettered';
    }
    const eventTime = spec.eventTime(value as never);
    this.timeline ??= new EventTimeline(eventTime);
    const event: CepEvent = { topic: catalogTopic, value };
    const cepRecord = { event, ts: this.timeline.toEngineTime(eventTime), topic: record.topic, partition: record.partition, offset: record.offset };
    const failures: string[] = [];
    for (const runner of this.runners.values()) {
      if (!runner.inputs.has(catalogTopic)) continue;
      try {
        runner.saved = undefined;
        runner.engine.ingest(cepRecord);
      } catch (error) {
        failures.push(`rule ${runner.rule.spec.id}: ${describeFailure(error).reason}`);
      }
    }
    if (failures.length > 0) {
      this.deadLetter(record, 'RuleError', failures.join('; '));
      return 'dead-lettered';
    }
    return 'applied';
  }

  /**
   * Partitions silent for `idlePartitionMs` stop holding their engines' watermark back (the same as
   * Flink's idleness: a processing-time decision, so output may then depend on arrival timing).
   */
  markIdlePartitions(): void {
    const now = this.now();
    for (const [topic, list] of this.lastSeenMs) {
      list.forEach((seen, partition) => {
        const name = `${topic}/${partition}`;
        if (seen === undefined || this.idle.has(name) || now - seen < this.options.idlePartitionMs) return;
        this.idle.add(name);
        for (const runner of this.runners.values()) {
          runner.saved = undefined;
          runner.engine.markIdle(topic, partition);
        }
      });
    }
  }

  /** Turns what the engines emitted since the last call into output records (stamped with the detection time). */
  collect(): void {
    const detectedAt = nanosNow(this.now());
    for (const runner of this.runners.values()) this.collectRunner(runner, detectedAt);
  }

  /** Takes the outputs and the checkpoint at this point of the input, for one transaction. */
  takeCommit(): CommitUnit {
    this.collect();
    const rules: Record<string, RuleCheckpoint> = {};
    const ruleJson: string[] = [];
    for (const [id, runner] of this.runners) {
      if (runner.saved === undefined) {
        const checkpoint: RuleCheckpoint = { version: runner.rule.spec.version, snapshot: runner.engine.snapshot() };
        runner.saved = { checkpoint, json: JSON.stringify(checkpoint) };
      }
      rules[id] = runner.saved.checkpoint;
      ruleJson.push(`${JSON.stringify(id)}:${runner.saved.json}`);
    }
    const offsets = this.offsets;
    const checkpoint: PartitionCheckpoint = {
      format: 2,
      kind: 'state',
      group: this.options.group,
      partition: this.slot,
      offsets,
      timelineBase: this.timeline?.base ?? null,
      rules,
      writer: this.options.writer,
      writtenAtMs: this.now(),
    };
    // The same JSON as JSON.stringify(checkpoint), with the rules' parts spliced in.
    const head = JSON.stringify({ ...checkpoint, rules: {} });
    const checkpointJson = `${head.slice(0, head.lastIndexOf('"rules":{}'))}"rules":{${ruleJson.join(',')}}${head.slice(head.lastIndexOf('"rules":{}') + '"rules":{}'.length)}`;
    const unit: CommitUnit = {
      slot: this.slot,
      alerts: this.alerts,
      sideOutputs: this.sideOutputs,
      deadLetters: this.deadLetters,
      offsets,
      records: this.records,
      checkpoint,
      checkpointJson,
    };
    this.alerts = [];
    this.sideOutputs = [];
    this.deadLetters = [];
    this.records = 0;
    return unit;
  }

  private engineOptions(rule: CompiledRule): CompiledRule['options'] {
    const ttl = rule.options.idleKeyTtlNs ?? this.options.idleKeyTtlNs;
    return ttl === undefined ? rule.options : { ...rule.options, idleKeyTtlNs: ttl };
  }

  private collectRunner(runner: RuleRunner, detectedAt: string): void {
    const { matches, timeouts, late, droppedPartialMatches } = runner.engine.drain();
    if (droppedPartialMatches > 0) this.options.onPartialMatchesDropped?.(runner.rule.spec.id, droppedPartialMatches);
    if (matches.length === 0 && timeouts.length === 0 && late.length === 0) return;
    const timeline = this.timeline;
    if (timeline === undefined) return;
    const toEpochNanos = (engineTime: number) => timeline.toEpochNanos(engineTime);
    for (const match of matches) this.alerts.push(alertOf(runner.rule, match, detectedAt, toEpochNanos));
    const watermark = Number.isFinite(runner.engine.watermark) ? toEpochNanos(runner.engine.watermark) : null;
    for (const timeout of timeouts) this.sideOutputs.push(timeoutOf(runner.rule, timeout, watermark, detectedAt, toEpochNanos));
    for (const record of late) this.sideOutputs.push(lateOf(runner.rule, record, detectedAt, toEpochNanos));
  }

  private deadLetter(record: InputRecord, errorType: string, reason: string): void {
    this.deadLetters.push({
      topic: dlqTopicOf(record.topic),
      message: {
        key: record.key,
        value: record.value,
        headers: deadLetterHeaders(record.headers, {
          reason,
          errorType,
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          attempts: 0,
          consumerGroup: this.options.group,
          failedAt: new Date(this.now()),
        }),
      },
    });
  }
}
