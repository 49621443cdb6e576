import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PartitionProcessor, CommitUnit } from '../engine/partition-processor';
import type { RuleBook } from '../rules/rule-book';

/** Seconds from an event's own time to its detection or commit: 1 ms to 1 min. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Per-rule metrics of the engines: matches, side outputs, state size and latency. */
export class CepMetrics {
  private readonly matches: Counter<'rule'>;
  private readonly sideOutputs: Counter<'rule' | 'kind'>;
  private readonly records: Counter<'topic'>;
  private readonly deadLettered: Counter<'topic'>;
  private readonly detection: Histogram<'rule'>;
  private readonly visible: Histogram<'rule'>;
  private readonly transaction: Histogram;
  private readonly dropped: Counter<'rule'>;

  constructor(registry: Registry, processors: () => readonly PartitionProcessor[], rules?: RuleBook) {
    const registers = [registry];
    this.dropped = new Counter({
      name: 'tributary_cep_partial_matches_dropped_total',
      help: 'Partial matches dropped (oldest first) because a key reached CEP_MAX_PARTIAL_MATCHES_PER_KEY, by rule',
      labelNames: ['rule'],
      registers,
    });
    if (rules) {
      new Gauge({
        name: 'tributary_cep_rules_refused',
        help: 'Enabled rules whose current version on the rules topic is not run (it does not compile or exceeds CEP_MAX_WITHIN_MS; the log says why), by rule',
        labelNames: ['rule'],
        registers,
        collect() {
          this.reset();
          for (const entry of rules.list()) if (entry.spec.enabled && entry.error !== undefined) this.set({ rule: entry.spec.id }, 1);
        },
      });
    }
    this.matches = new Counter({ name: 'tributary_cep_matches_total', help: 'Alerts committed to cep.alerts, by rule', labelNames: ['rule'], registers });
    this.sideOutputs = new Counter({
      name: 'tributary_cep_side_outputs_total',
      help: 'Late events and timed-out partial matches committed to cep.side-outputs, by rule and kind',
      labelNames: ['rule', 'kind'],
      registers,
    });
    this.records = new Counter({ name: 'tributary_cep_records_total', help: 'Input records applied to the engines, by topic', labelNames: ['topic'], registers });
    this.deadLettered = new Counter({ name: 'tributary_cep_dead_lettered_total', help: 'Input records sent to their DLQ, by DLQ topic', labelNames: ['topic'], registers });
    this.detection = new Histogram({
      name: 'tributary_cep_detection_latency_seconds',
      help: 'From the event time of the last event of a match to its detection by the engine, by rule',
      labelNames: ['rule'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.visible = new Histogram({
      name: 'tributary_cep_alert_commit_latency_seconds',
      help: 'From the event time of the last event of a match to the commit of its alert (visible to read-committed consumers), by rule',
      labelNames: ['rule'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.transaction = new Histogram({
      name: 'tributary_cep_transaction_duration_seconds',
      help: 'Duration of one Kafka transaction (outputs, checkpoint and offsets)',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    const perRule = (pick: (stats: ReturnType<PartitionProcessor['stats']>[number]) => number) => {
      const totals = new Map<string, number>();
      for (const processor of processors()) for (const stats of processor.stats()) totals.set(stats.rule, (totals.get(stats.rule) ?? 0) + pick(stats));
      return totals;
    };
    new Gauge({
      name: 'tributary_cep_partial_matches',
      help: 'Partial matches alive on the partitions this instance owns, by rule',
      labelNames: ['rule'],
      registers,
      collect() {
        this.reset();
        for (const [rule, value] of perRule((stats) => stats.partialMatches)) this.set({ rule }, value);
      },
    });
    new Gauge({
      name: 'tributary_cep_state_keys',
      help: 'Keys holding state (windows or partial matches) on the partitions this instance owns, by rule',
      labelNames: ['rule'],
      registers,
      collect() {
        this.reset();
        for (const [rule, value] of perRule((stats) => stats.keys)) this.set({ rule }, value);
      },
    });
    new Gauge({
      name: 'tributary_cep_buffered_records',
      help: 'Records waiting in the reorder buffers for the watermark, by rule',
      labelNames: ['rule'],
      registers,
      collect() {
        this.reset();
        for (const [rule, value] of perRule((stats) => stats.bufferedRecords)) this.set({ rule }, value);
      },
    });
    new Gauge({
      name: 'tributary_cep_owned_partitions',
      help: 'Partition numbers this instance owns',
      registers,
      collect() {
        this.set(processors().length);
      },
    });
  }

  partialMatchesDropped(rule: string, count: number): void {
    this.dropped.inc({ rule }, count);
  }

  consumed(topic: string, records: number): void {
    this.records.inc({ topic }, records);
  }

  committed(unit: CommitUnit, transactionMs: number, committedAtMs: number): void {
    this.transaction.observe(transactionMs / 1000);
    for (const alert of unit.alerts) {
      this.matches.inc({ rule: alert.rule });
      const eventMs = Number(BigInt(alert.ts) / 1000n) / 1000;
      const detectedMs = Number(BigInt(alert.detectedAt) / 1000n) / 1000;
      this.detection.observe({ rule: alert.rule }, Math.max(0, detectedMs - eventMs) / 1000);
      this.visible.observe({ rule: alert.rule }, Math.max(0, committedAtMs - eventMs) / 1000);
    }
    for (const side of unit.sideOutputs) this.sideOutputs.inc({ rule: side.rule, kind: side.kind });
    for (const letter of unit.deadLetters) this.deadLettered.inc({ topic: letter.topic });
  }
}
