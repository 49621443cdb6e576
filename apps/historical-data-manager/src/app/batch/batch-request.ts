/**
 * What a batch job run is asked to do, validated: `POST /v1/jobs` bodies and scheduled runs go
 * through the same checks, so a run never starts on input the API would refuse.
 */
import { TICKER_PATTERN } from '@tributary/contracts';
import { datasetOfTopic } from '../archive/archive-layout';
import { formatInstant, parseInstant } from '../query/query-parameters';

export const BATCH_JOBS = ['candles', 'reconcile', 'features', 'flow', 'sentiment'] as const;
export type BatchJobName = (typeof BATCH_JOBS)[number];

/** Candle intervals the batch layer computes, with their lengths (as the speed layer's candles.* topics). */
export const CANDLE_INTERVALS = ['1s', '10s', '1m'] as const;
export type CandleIntervalName = (typeof CANDLE_INTERVALS)[number];
export const CANDLE_INTERVAL_NS: Readonly<Record<CandleIntervalName, bigint>> = {
  '1s': 1_000_000_000n,
  '10s': 10_000_000_000n,
  '1m': 60_000_000_000n,
};

/** Windows the flow and sentiment aggregates may use. */
export const AGGREGATE_WINDOWS = ['1m', '5m', '15m', '1h', '1d'] as const;
export type AggregateWindow = (typeof AGGREGATE_WINDOWS)[number];
export const AGGREGATE_WINDOW_NS: Readonly<Record<AggregateWindow, bigint>> = {
  '1m': 60_000_000_000n,
  '5m': 300_000_000_000n,
  '15m': 900_000_000_000n,
  '1h': 3_600_000_000_000n,
  '1d': 86_400_000_000_000n,
};

export interface CandlesParams {
  intervals: CandleIntervalName[];
  /** Archived dataset of the trades (market.trades). */
  tradesDataset: string;
}

export interface ReconcileParams extends CandlesParams {
  /** The speed layer's archived candles are `<realtimePrefix><interval>` (candles_1s, candles_10s, candles_1m). */
  realtimePrefix: string;
  /** Windows that differ listed in the job's report at most (all of them are in the gold dataset). */
  maxReportedDifferences: number;
}

export interface FeaturesParams {
  /** `batch`: the gold_candles_1m dataset of the candles job; `realtime`: the archived candles_1m (latest revision). */
  source: 'batch' | 'realtime';
  smaPeriod: number;
  emaPeriod: number;
  rsiPeriod: number;
  vwapPeriod: number;
  volatilityPeriod: number;
  /** 1 min candles read before `from` so the first features of the range have their history. */
  warmup: number;
}

export interface FlowParams {
  window: AggregateWindow;
  flowDataset: string;
}

export interface SentimentParams {
  window: AggregateWindow;
  sentimentDataset: string;
}

export interface BatchParamsOf {
  candles: CandlesParams;
  reconcile: ReconcileParams;
  features: FeaturesParams;
  flow: FlowParams;
  sentiment: SentimentParams;
}

/** A validated run request. Times are epoch nanoseconds, `from` inclusive, `to` exclusive. */
export type BatchJobRequest = {
  [J in BatchJobName]: {
    job: J;
    fromNs: bigint;
    toNs: bigint;
    /** Empty: every symbol. */
    symbols: string[];
    params: BatchParamsOf[J];
  };
}[BatchJobName];

/** A request refused with a 4xx status, naming the field at fault. */
export class BatchRequestRejection extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 422 | 429,
    readonly parameter: string | null,
    message: string,
  ) {
    super(message);
  }
}

export interface BatchRequestLimits {
  /** Longest range one run may cover, in milliseconds. */
  maxRangeMs: number;
  /** Most symbols one run may name. */
  maxSymbols: number;
  /**
   * `ARCHIVE_TOPICS`: the datasets a job may read besides the defaults (see {@link allowedInputs}).
   * Without it, only the default datasets.
   */
  archivedTopics?: readonly string[];
}

/** The dataset parameters of the jobs: the catalog topic whose records each must hold, and its default. */
const INPUT_PARAMS = {
  tradesDataset: { topic: 'market.trades', fallback: 'market_trades' },
  flowDataset: { topic: 'options.flow', fallback: 'options_flow' },
  sentimentDataset: { topic: 'news.sentiment', fallback: 'news_sentiment' },
} as const;
type InputParam = keyof typeof INPUT_PARAMS;

/** `ARCHIVE_TOPICS` entries as (dataset, catalog topic whose schema its records follow). */
function archivedSchemas(archivedTopics: readonly string[]): { dataset: string; schemaTopic: string }[] {
  return archivedTopics.map((entry) => {
    const [topic, schemaTopic = topic] = entry.split(':').map((part) => part.trim()) as [string, string?];
    return { dataset: datasetOfTopic(topic), schemaTopic };
  });
}

/**
 * The datasets a job's dataset parameter may name: its default (`market_trades`, `options_flow`,
 * `news_sentiment`) and every archived dataset whose records follow the same catalog topic (an
 * `ARCHIVE_TOPICS` entry `replay.trades:market.trades` allows `replay_trades` for trades). For
 * `realtimePrefix`: `candles_` and every prefix whose 1s, 10s and 1m datasets are archived from
 * topics following `candles.1s`, `candles.10s` and `candles.1m`. A run never reads anything else.
 */
export function allowedInputs(param: InputParam | 'realtimePrefix', archivedTopics: readonly string[] = []): string[] {
  const archived = archivedSchemas(archivedTopics);
  if (param === 'realtimePrefix') {
    const prefixes = new Set(['candles_']);
    for (const { dataset, schemaTopic } of archived) {
      if (schemaTopic !== 'candles.1m' || !dataset.endsWith('1m')) continue;
      const prefix = dataset.slice(0, -'1m'.length);
      const all = CANDLE_INTERVALS.every((interval) =>
        archived.some((a) => a.dataset === `${prefix}${interval}` && a.schemaTopic === `candles.${interval}`),
      );
      if (all && prefix.length > 0) prefixes.add(prefix);
    }
    return [...prefixes].sort();
  }
  const { topic, fallback } = INPUT_PARAMS[param];
  return [...new Set([fallback, ...archived.filter((a) => a.schemaTopic === topic).map((a) => a.dataset)])].sort();
}

/** 400 naming the allowed datasets when a dataset parameter of `request` names one its job cannot read. */
export function checkInputDatasets(request: BatchJobRequest, archivedTopics: readonly string[] = []): void {
  const params = request.params as unknown as Record<string, unknown>;
  for (const param of [...(Object.keys(INPUT_PARAMS) as InputParam[]), 'realtimePrefix' as const]) {
    const value = params[param];
    if (typeof value !== 'string') continue;
    const allowed = allowedInputs(param, archivedTopics);
    if (!allowed.includes(value)) {
      reject(
        `params.${param}`,
        `the ${request.job} job cannot read ${JSON.stringify(value)} through params.${param}; allowed: ${allowed.join(', ')}`,
      );
    }
  }
}

const MINUTE_NS = 60_000_000_000n;
const DATASET_NAME = /^[A-Za-z0-9_]{1,128}$/;
const TICKER = new RegExp(TICKER_PATTERN);

/** The length every `from` and `to` of the job must be a multiple of (whole windows only). */
export function alignmentOf(request: BatchJobRequest): bigint {
  switch (request.job) {
    case 'flow':
    case 'sentiment':
      return AGGREGATE_WINDOW_NS[request.params.window];
    default:
      return MINUTE_NS;
  }
}

/** The gold datasets a run writes. */
export function outputDatasetsOf(request: BatchJobRequest): string[] {
  switch (request.job) {
    case 'candles':
      return request.params.intervals.map((i) => `gold_candles_${i}`);
    case 'reconcile':
      return ['gold_candle_reconciliation'];
    case 'features':
      return ['gold_features_1m'];
    case 'flow':
      return [`gold_options_flow_${request.params.window}`];
    case 'sentiment':
      return [`gold_sentiment_${request.params.window}`];
  }
}

type ParamReader = (params: Record<string, unknown>) => Record<string, unknown>;

function reject(parameter: string, message: string): never {
  throw new BatchRequestRejection(400, parameter, message);
}

function intParam(params: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = params[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    reject(`params.${name}`, `params.${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

function oneOfParam<T extends string>(params: Record<string, unknown>, name: string, values: readonly T[], fallback: T): T {
  const value = params[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    reject(`params.${name}`, `params.${name} must be one of ${values.join(', ')}`);
  }
  return value as T;
}

function datasetParam(params: Record<string, unknown>, name: string, fallback: string): string {
  const value = params[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !DATASET_NAME.test(value)) {
    reject(`params.${name}`, `params.${name} must be a dataset name (letters, digits, _; at most 128)`);
  }
  return value;
}

function intervalsParam(params: Record<string, unknown>): CandleIntervalName[] {
  const value = params['intervals'];
  if (value === undefined) return [...CANDLE_INTERVALS];
  const list = typeof value === 'string' ? value.split(',').map((v) => v.trim()) : value;
  if (!Array.isArray(list) || list.length === 0) {
    reject('params.intervals', `params.intervals must list some of ${CANDLE_INTERVALS.join(', ')}`);
  }
  const bad = list.find((v) => typeof v !== 'string' || !(CANDLE_INTERVALS as readonly string[]).includes(v));
  if (bad !== undefined) {
    reject('params.intervals', `params.intervals: ${JSON.stringify(bad)} is not one of ${CANDLE_INTERVALS.join(', ')}`);
  }
  return CANDLE_INTERVALS.filter((i) => list.includes(i));
}

const PARAM_READERS: Record<BatchJobName, ParamReader> = {
  candles: (p) => ({ intervals: intervalsParam(p), tradesDataset: datasetParam(p, 'tradesDataset', 'market_trades') }),
  reconcile: (p) => ({
    intervals: intervalsParam(p),
    tradesDataset: datasetParam(p, 'tradesDataset', 'market_trades'),
    realtimePrefix: datasetParam(p, 'realtimePrefix', 'candles_'),
    maxReportedDifferences: intParam(p, 'maxReportedDifferences', 100, 0, 10_000),
  }),
  features: (p) => {
    const periods = {
      smaPeriod: intParam(p, 'smaPeriod', 20, 1, 1000),
      emaPeriod: intParam(p, 'emaPeriod', 20, 1, 1000),
      rsiPeriod: intParam(p, 'rsiPeriod', 14, 1, 1000),
      vwapPeriod: intParam(p, 'vwapPeriod', 20, 1, 1000),
      volatilityPeriod: intParam(p, 'volatilityPeriod', 20, 2, 1000),
    };
    const longest = Math.max(...Object.values(periods));
    const warmup = intParam(p, 'warmup', Math.max(100, 5 * longest), 0, 100_000);
    if (warmup < longest) {
      reject('params.warmup', `params.warmup (${warmup}) must be at least the longest period (${longest})`);
    }
    return { source: oneOfParam(p, 'source', ['batch', 'realtime'] as const, 'batch'), ...periods, warmup };
  },
  flow: (p) => ({
    window: oneOfParam(p, 'window', AGGREGATE_WINDOWS, '5m'),
    flowDataset: datasetParam(p, 'flowDataset', 'options_flow'),
  }),
  sentiment: (p) => ({
    window: oneOfParam(p, 'window', AGGREGATE_WINDOWS, '1h'),
    sentimentDataset: datasetParam(p, 'sentimentDataset', 'news_sentiment'),
  }),
};

const PARAM_NAMES: Record<BatchJobName, string[]> = {
  candles: ['intervals', 'tradesDataset'],
  reconcile: ['intervals', 'tradesDataset', 'realtimePrefix', 'maxReportedDifferences'],
  features: ['source', 'smaPeriod', 'emaPeriod', 'rsiPeriod', 'vwapPeriod', 'volatilityPeriod', 'warmup'],
  flow: ['window', 'flowDataset'],
  sentiment: ['window', 'sentimentDataset'],
};

/** The parameters of `job` with defaults applied, or a rejection naming the bad one. */
export function parseJobParams<J extends BatchJobName>(job: J, raw: unknown): BatchParamsOf[J] {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) reject('params', 'params must be an object');
  const params = raw as Record<string, unknown>;
  for (const name of Object.keys(params)) {
    if (!PARAM_NAMES[job].includes(name)) {
      reject(`params.${name}`, `unknown parameter "${name}" for the ${job} job (known: ${PARAM_NAMES[job].join(', ') || 'none'})`);
    }
  }
  return PARAM_READERS[job](params) as unknown as BatchParamsOf[J];
}

function instant(body: Record<string, unknown>, name: 'from' | 'to'): bigint {
  const value = body[name];
  if (value === undefined || value === null || value === '') {
    reject(name, `${name} is required: an ISO-8601 time or epoch nanoseconds`);
  }
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  const ns = typeof text === 'string' ? parseInstant(text) : null;
  if (ns === null) reject(name, `${name} ${JSON.stringify(value)} is neither an ISO-8601 time nor epoch nanoseconds`);
  return ns;
}

function symbolsOf(value: unknown, maxSymbols: number): string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter((s) => s !== '') : value;
  if (!Array.isArray(list)) reject('symbols', 'symbols must be an array of tickers (or one comma-separated string)');
  const bad = list.find((s) => typeof s !== 'string' || !TICKER.test(s));
  if (bad !== undefined) reject('symbols', `symbols: ${JSON.stringify(bad)} is not a ticker (${TICKER_PATTERN})`);
  const symbols = [...new Set(list as string[])].sort();
  if (symbols.length > maxSymbols) {
    throw new BatchRequestRejection(422, 'symbols', `${symbols.length} symbols named; at most ${maxSymbols} per run`);
  }
  return symbols;
}

/** Validates a `POST /v1/jobs` body (`{ job, from, to, symbols?, params? }`). */
export function parseBatchJobRequest(body: unknown, limits: BatchRequestLimits): BatchJobRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BatchRequestRejection(400, null, 'the body must be a JSON object { job, from, to, symbols?, params? }');
  }
  const fields = body as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (!['job', 'from', 'to', 'symbols', 'params'].includes(name)) {
      reject(name, `unknown field "${name}" (known: job, from, to, symbols, params)`);
    }
  }
  const job = fields['job'];
  if (typeof job !== 'string' || !(BATCH_JOBS as readonly string[]).includes(job)) {
    reject('job', `job must be one of ${BATCH_JOBS.join(', ')}${job === undefined ? '' : ` (got ${JSON.stringify(job)})`}`);
  }
  const fromNs = instant(fields, 'from');
  const toNs = instant(fields, 'to');
  const symbols = symbolsOf(fields['symbols'], limits.maxSymbols);
  const params = parseJobParams(job as BatchJobName, fields['params']);
  const request = checkedRequest({ job, fromNs, toNs, symbols, params } as BatchJobRequest, limits);
  checkInputDatasets(request, limits.archivedTopics);
  return request;
}

/** Range checks shared by API and scheduled runs: ordered, not too long, whole windows. */
export function checkedRequest(request: BatchJobRequest, limits: BatchRequestLimits): BatchJobRequest {
  const { fromNs, toNs } = request;
  if (toNs <= fromNs) {
    reject('to', `the range is empty or inverted: to (${formatInstant(toNs)}) must be after from (${formatInstant(fromNs)})`);
  }
  if (toNs - fromNs > BigInt(limits.maxRangeMs) * 1_000_000n) {
    throw new BatchRequestRejection(
      422,
      'to',
      `the range spans ${(toNs - fromNs) / 1_000_000n} ms; one run covers at most ${limits.maxRangeMs} ms (BATCH_MAX_RANGE_MS)`,
    );
  }
  const alignment = alignmentOf(request);
  for (const [name, ns] of [['from', fromNs], ['to', toNs]] as const) {
    if (ns % alignment !== 0n) {
      reject(
        name,
        `${name} (${formatInstant(ns)}) must fall on a ${formatDuration(alignment)} boundary: the ${request.job} job writes whole windows only`,
      );
    }
  }
  return request;
}

export function formatDuration(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  if (s % 86_400n === 0n) return `${s / 86_400n}d`;
  if (s % 3600n === 0n) return `${s / 3600n}h`;
  if (s % 60n === 0n) return `${s / 60n}m`;
  return `${s}s`;
}
