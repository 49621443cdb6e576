import { randomBytes } from 'node:crypto';

/** What `npm run bench` can be told through the environment (see the header of tools/bench/platform.ts). */
export interface BenchConfig {
  /** Measured seconds of each ramp step (after the warm-up). */
  readonly stepSeconds: number;
  /** Measured seconds of the run at the highest sustained rate. */
  readonly sustainSeconds: number;
  /** Seconds after the collector is ready before a step or the sustained run is measured. */
  readonly warmupSeconds: number;
  /** Seconds between two samples of metrics, offsets, lag and CPU. */
  readonly sampleSeconds: number;
  /** Longest wait between steps for the consumers to work off what the previous step left. */
  readonly settleSeconds: number;
  /** Rates to try, in order, up to the first one not sustained; empty: doubling from startRate. */
  readonly rates: readonly number[];
  readonly startRate: number;
  /** Doubling steps at most, before the one step that refines between the best and the failed rate. */
  readonly maxSteps: number;
  /** How far a consumer group may fall behind over a step, in seconds of its input, and still keep up. */
  readonly maxBehindSeconds: number;
  /** Records ProducerPerformance writes and ConsumerPerformance reads back. */
  readonly ceilingRecords: number;
  /** Event time between two scripted market episodes (what makes the CEP rules fire). */
  readonly scenarioIntervalMs: number;
  /** Topics the archive consumes (those `npm start` archives by default). */
  readonly archiveTopics: readonly string[];
}

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

function list(name: string, fallback: readonly string[]): string[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...fallback];
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

export function benchConfigFromEnv(): BenchConfig {
  const rates = list('BENCH_RATES', []).map((rate) => {
    const value = Number(rate);
    if (!Number.isInteger(value) || value <= 0)
      throw new Error(`BENCH_RATES: "${rate}" is not a positive whole number of events/s`);
    return value;
  });
  return {
    stepSeconds: positiveNumber('BENCH_STEP_SECONDS', 30),
    sustainSeconds: positiveNumber('BENCH_SUSTAIN_SECONDS', 180),
    warmupSeconds: positiveNumber('BENCH_WARMUP_SECONDS', 5),
    sampleSeconds: positiveNumber('BENCH_SAMPLE_SECONDS', 1),
    settleSeconds: positiveNumber('BENCH_SETTLE_SECONDS', 30),
    rates,
    startRate: positiveNumber('BENCH_START_RATE', 1_000),
    maxSteps: positiveNumber('BENCH_MAX_STEPS', 5),
    maxBehindSeconds: positiveNumber('BENCH_MAX_BEHIND_SECONDS', 2),
    ceilingRecords: positiveNumber('BENCH_CEILING_RECORDS', 2_000_000),
    scenarioIntervalMs: positiveNumber('BENCH_SCENARIO_INTERVAL_MS', 30_000),
    archiveTopics: list('BENCH_ARCHIVE_TOPICS', [
      'market.trades',
      'options.trades',
      'options.flow',
      'options.chains',
      'candles.1s',
      'candles.1m',
      'cep.alerts',
    ]),
  };
}

/** The topics the archive reads: an ARCHIVE_TOPICS entry is `<topic>` or `<topic>:<catalog topic>`. */
export function archiveSourceTopics(config: BenchConfig): string[] {
  return config.archiveTopics.map((entry) => entry.split(':')[0] as string);
}

/**
 * The names this run gives everything it creates, all derived from one run id, so that nothing is
 * shared with another run or with a running `npm start`, and cleanup knows what to remove.
 */
export interface RunNames {
  readonly runId: string;
  /** INSTANCE_ID of every service: the second half of the `producer` header of what they write. */
  readonly instanceId: string;
  /** Prefix of the topics this run creates (change capture, the ceiling's topic). */
  readonly topicPrefix: string;
  groupOf(service: string): string;
  readonly archiveSchema: string;
  readonly cdc: { readonly slot: string; readonly publication: string; readonly schema: string };
}

export function runNames(): RunNames {
  // Letters and digits only: it goes into topic, group, PostgreSQL schema and slot names alike.
  const runId = `pb${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  return {
    runId,
    instanceId: `bench-${runId}`,
    topicPrefix: `${runId}.`,
    groupOf: (service) => `${runId}-${service}`,
    archiveSchema: `archive_${runId}`,
    cdc: { slot: `bench_${runId}`, publication: `bench_${runId}`, schema: `trading_${runId}` },
  };
}
