import { CATALOG, isDlqTopic, isTopicName, topicSpec, type EventOf, type TopicName } from './catalog';
import {
  Candle,
  type Alert,
  type CepRule,
  type CepSideOutput,
  type ChangeEvent,
  type DlqRecord,
  type EnrichedOptionQuote,
  type Execution,
  type FeatureVector,
  type LateTrade,
  type NewsSentiment,
  type OptionChainSnapshot,
  type OptionFlow,
  type OptionQuote,
  type OptionTrade,
  type OrderBookUpdate,
  type Prediction,
  type QualityFinding,
  type RiskMetric,
  type TechnicalSignal,
  type TransactionBoundary,
  type UnderlyingQuote,
  type UnderlyingTrade,
} from './events';
import { DLQ_HEADERS, DLQ_SUFFIX, HEADERS } from './headers';

/** Event time of the samples: 2025-03-21T14:30:00.123456789Z (a Friday, mid-session). */
export const SAMPLE_EVENT_TIME = '1742567400123456789';
const MINUTE_START = '1742567400000000000';
const TS = SAMPLE_EVENT_TIME;

const quote: UnderlyingQuote.Value = {
  symbol: 'AAPL',
  bidPrice: 214.1,
  bidSize: 300,
  askPrice: 214.12,
  askSize: 200,
  bidExchange: 'Q',
  askExchange: 'P',
  ts: TS,
  conditions: ['R'],
  tape: 'C',
};

const trade: UnderlyingTrade.Value = {
  symbol: 'AAPL',
  price: 214.11,
  size: 100,
  exchange: 'D',
  tradeId: '52983525029461',
  conditions: ['@'],
  ts: TS,
  tape: 'C',
};

const book: OrderBookUpdate.Value = {
  symbol: 'AAPL',
  exchange: 'XNAS',
  bids: [
    [214.1, 300],
    [214.09, 500],
    [214.08, 800],
  ],
  asks: [
    [214.12, 200],
    [214.13, 400],
    [214.14, 900],
  ],
  depth: 10,
  snapshot: true,
  sequence: '9007199254740993',
  ts: TS,
};

const contract = {
  symbol: 'AAPL250417C00215000',
  expiration: '2025-04-17',
  strike: 215,
  right: 'call',
} as const;

const optionQuote: OptionQuote.Value = {
  ...contract,
  underlying: 'AAPL',
  bidPrice: 6.1,
  bidSize: 45,
  askPrice: 6.25,
  askSize: 30,
  bidExchange: 'C',
  askExchange: 'X',
  ts: TS,
};

const enrichedOptionQuote: EnrichedOptionQuote.Value = {
  ...optionQuote,
  mid: 6.175,
  spread: 0.15,
  spreadPct: 2.42914979757085,
  underlyingPrice: 214.11,
  underlyingTs: '1742567400120000000',
  moneyness: 0.9958604651162791,
  logMoneyness: -0.0041481264765770515,
  intrinsic: 0,
  yearsToExpiry: 0.07460045270621778,
};

const optionTrade: OptionTrade.Value = {
  ...contract,
  underlying: 'AAPL',
  price: 6.2,
  size: 10,
  exchange: 'C',
  conditions: ['I'],
  ts: TS,
  tradeId: '1742567400123-7',
};

const chain: OptionChainSnapshot.Value = {
  underlying: 'AAPL',
  underlyingPrice: 214.11,
  ts: TS,
  riskFreeRate: 0.0431,
  dividendYield: 0.0046,
  contracts: [
    {
      ...contract,
      bid: 6.1,
      ask: 6.25,
      bidSize: 45,
      askSize: 30,
      last: 6.2,
      volume: 1843,
      openInterest: 10472,
      iv: 0.2712,
      greeks: { delta: 0.4897, gamma: 0.0241, theta: -0.1123, vega: 0.2398, rho: 0.0791 },
    },
    {
      symbol: 'AAPL250417P00215000',
      expiration: '2025-04-17',
      strike: 215,
      right: 'put',
      bid: 6.45,
      ask: 6.6,
      volume: 977,
      openInterest: 8311,
      iv: 0.2756,
      greeks: { delta: -0.5121, gamma: 0.0239, theta: -0.0951, vega: 0.2401, rho: -0.0893 },
    },
  ],
};

const flow: OptionFlow.Value = {
  ...contract,
  underlying: 'AAPL',
  kind: 'sweep',
  side: 'buy',
  premium: 312500,
  size: 500,
  price: 6.25,
  exchanges: ['C', 'X', 'I'],
  volumeToOpenInterest: 1.8,
  underlyingPrice: 214.11,
  ts: TS,
};

const execution: Execution.Value = {
  executionId: 'EX-20250321-000187',
  orderId: 'ORD-20250321-000042',
  account: 'ACC-001',
  symbol: contract.symbol,
  underlying: 'AAPL',
  side: 'buy',
  quantity: 10,
  price: 6.2,
  venue: 'C',
  liquidity: 'remove',
  fee: 6.5,
  ts: TS,
};

const signal: TechnicalSignal.Value = {
  symbol: 'AAPL',
  indicator: 'macd',
  value: 0.42,
  components: { signal: 0.31, histogram: 0.11 },
  params: { fast: 12, slow: 26, signal: 9 },
  interval: '1m',
  direction: 'bullish',
  ts: TS,
};

const features: FeatureVector.Value = {
  symbol: 'AAPL',
  featureSet: 'intraday_momentum',
  version: 3,
  values: { return_5m: 0.0012, realized_vol_30m: 0.21, iv_rank: 0.43, volume_ratio: 1.7 },
  windowStart: '1742565600123456789',
  ts: TS,
};

const prediction: Prediction.Value = {
  symbol: 'AAPL',
  model: 'gbm_return_5m',
  modelVersion: '2025.03.2',
  target: 'return',
  horizon: '5m',
  prediction: 0.0008,
  confidence: 0.62,
  features: { featureSet: 'intraday_momentum', version: 3, ts: TS },
  ts: TS,
};

const risk: RiskMetric.Value = {
  account: 'ACC-001',
  metric: 'var_95',
  value: 125000,
  limit: 250000,
  currency: 'USD',
  ts: TS,
};

const sentiment: NewsSentiment.Value = {
  articleId: 'bz-44123987',
  symbols: ['AAPL', 'MSFT'],
  headline: 'Apple expands on-device AI features across its product line',
  source: 'benzinga',
  url: 'https://www.benzinga.com/news/44123987',
  sentiment: 0.64,
  confidence: 0.81,
  model: 'finbert-v2',
  ts: TS,
};

const alert: Alert.Value = {
  alertId: 'momentum_surge:1:AAPL:1742567400123456789',
  rule: 'momentum_surge',
  ruleVersion: 1,
  severity: 'warning',
  key: 'AAPL',
  message: 'AAPL up 1.8% in 60 s on 4.2x its average volume',
  ts: TS,
  detectedAt: '1742567400126656789',
  events: [
    { topic: 'market.trades', partition: 7, offset: '1048576', ts: '1742567340123456789' },
    { topic: 'market.trades', partition: 7, offset: '1049311', ts: TS },
  ],
  attributes: { priceChangePct: 1.8, volumeRatio: 4.2, windowSeconds: 60 },
};

const rule: CepRule.Value = {
  id: 'sentiment_price',
  version: 3,
  enabled: true,
  severity: 'warning',
  description: 'Sentiment below -0.5, then the price 2% lower within 10 minutes',
  document: {
    inputs: ['news.sentiment', 'market.trades'],
    keyBy: 'symbol',
    pattern: { stages: [{ name: 'negative' }, { name: 'drop' }], within: 600_000_000_000 },
    outOfOrdernessNs: 50_000_000,
  },
  ts: TS,
  updatedBy: 'cep-engine/0 PUT /rules/sentiment_price',
};

const sideOutput: CepSideOutput.Value = {
  kind: 'timed-out-match',
  rule: 'momentum_surge',
  ruleVersion: 1,
  key: 'AAPL',
  ts: TS,
  watermark: TS,
  events: [{ topic: 'market.trades', partition: 7, offset: '1048576', ts: '1742567340123456789' }],
  stages: ['move'],
  windowStart: '1742567340123456789',
  detectedAt: '1742567400126656789',
};

const lateTrade: LateTrade.Value = {
  symbol: 'AAPL',
  price: 214.11,
  size: 100,
  exchange: 'D',
  tradeId: '52983525029461',
  ts: '1742567398123456789',
  missed: [{ interval: '1s', windowStart: '1742567398000000000', windowEnd: '1742567399000000000' }],
  watermark: '1742567400000000000',
  allowedLatenessMs: 1000,
  reason: 'the 1s window closed at watermark 1742567400000000000 (end 1742567399000000000 + lateness 1000 ms)',
  source: { topic: 'market.trades', partition: 7, offset: '1049311' },
};

const qualityFinding: QualityFinding.Value = {
  findingId: 'outlier:market.trades:7:1049311',
  check: 'outlier',
  action: 'dead-lettered',
  symbol: 'AAPL',
  ts: TS,
  message: 'price 2141.1 is 38540.4 standard deviations from the rolling mean 214.08 of the last 100 trades',
  source: { topic: 'market.trades', partition: 7, offset: '1049311' },
  price: 2141.1,
  mean: 214.08,
  stddev: 0.05,
  zScore: 38540.4,
};

function candle(interval: Candle.CandleInterval): Candle.Value {
  const windowEnd = (BigInt(MINUTE_START) + Candle.INTERVAL_NANOS[interval]).toString();
  return {
    symbol: 'AAPL',
    interval,
    windowStart: MINUTE_START,
    windowEnd,
    open: 214.05,
    high: 214.2,
    low: 214,
    close: 214.11,
    volume: 12500,
    vwap: 214.09,
    trades: 87,
    revision: 0,
    final: false,
    ts: windowEnd,
  };
}

const transactionEnd: TransactionBoundary.Value = {
  status: 'END',
  id: '771:24023128',
  ts_ms: 1742567400123,
  event_count: 2,
  data_collections: [
    { data_collection: 'public.orders', event_count: 1 },
    { data_collection: 'public.fills', event_count: 1 },
  ],
};

function changeEvent(schema: string, table: string): ChangeEvent.Value {
  return {
    before: null,
    after: {
      id: 42,
      account: 'ACC-001',
      symbol: contract.symbol,
      side: 'buy',
      quantity: 10,
      limit_price: '6.25',
      status: 'new',
      created_at: '2025-03-21T14:30:00.123456Z',
    },
    source: {
      version: '0.1.0',
      connector: 'postgresql',
      name: 'cdc',
      ts_ms: 1742567400123,
      ts_us: 1742567400123456,
      snapshot: 'false',
      db: 'tributary',
      sequence: '["24023119","24023128"]',
      schema,
      table,
      txId: 771,
      lsn: 24023128,
    },
    op: 'c',
    ts_ms: 1742567400131,
    ts_us: 1742567400131207,
    transaction: { id: '771:24023128', total_order: 1, data_collection_order: 1 },
  };
}

function dlqRecord(originalTopic: string): DlqRecord.Value {
  const reason = '/bidPrice: expected number >= 0, got -1';
  return {
    originalTopic,
    partition: 3,
    offset: '1048576',
    key: 'AAPL',
    value: '{"symbol":"AAPL","bidPrice":-1}',
    encoding: 'utf8',
    headers: {
      [HEADERS.schemaVersion]: '1',
      [HEADERS.eventTime]: TS,
      [HEADERS.producer]: 'options-collector/0',
      [DLQ_HEADERS.reason]: reason,
      [DLQ_HEADERS.errorType]: 'ValidationError',
    },
    reason,
    errorType: 'ValidationError',
    attempts: 1,
    consumerGroup: 'cep-engine',
    failedAt: '2025-03-21T14:30:01.000Z',
    dlqPartition: 0,
    dlqOffset: '12',
  };
}

const SAMPLES: { [T in TopicName]: EventOf<T> } = {
  'market.quotes': quote,
  'market.trades': trade,
  'market.trades.validated': trade,
  'market.orderbook': book,
  'options.quotes': optionQuote,
  'options.quotes.enriched': enrichedOptionQuote,
  'options.trades': optionTrade,
  'options.chains': chain,
  'options.flow': flow,
  'trading.executions': execution,
  'signals.technical': signal,
  'ml.features': features,
  'ml.predictions': prediction,
  'risk.metrics': risk,
  'news.sentiment': sentiment,
  'cep.alerts': alert,
  'cep.rules': rule,
  'cep.side-outputs': sideOutput,
  'candles.1s': candle('1s'),
  'candles.10s': candle('10s'),
  'candles.1m': candle('1m'),
  'candles.late': lateTrade,
  'quality.events': qualityFinding,
  'cdc.transactions': transactionEnd,
};

/**
 * A valid example record of a topic (a fresh copy each call, safe to mutate), with optional top-level
 * overrides. Knows catalog topics, `cdc.<schema>.<table>` change topics and `<topic>.dlq` topics. Its
 * event time is SAMPLE_EVENT_TIME, in the past, so it passes the future-time check on any clock.
 */
export function sampleEvent<T extends TopicName>(topic: T, overrides?: Partial<EventOf<T>>): EventOf<T>;
export function sampleEvent(topic: string, overrides?: Record<string, unknown>): unknown;
export function sampleEvent(topic: string, overrides: Record<string, unknown> = {}): unknown {
  const spec = topicSpec(topic);
  if (!spec) throw new RangeError(`no topic "${topic}" in the catalog`);
  let sample: unknown;
  if (isTopicName(topic)) sample = SAMPLES[topic];
  else if (isDlqTopic(topic)) sample = dlqRecord(topic.slice(0, -DLQ_SUFFIX.length));
  else {
    const [, schema, table] = topic.split('.');
    sample = changeEvent(schema, table);
  }
  return { ...structuredClone(sample as object), ...overrides };
}

/** Every catalog topic with its sample, for table-driven tests. */
export function catalogSamples(): { topic: TopicName; value: unknown }[] {
  return (Object.keys(CATALOG) as TopicName[]).map((topic) => ({ topic, value: sampleEvent(topic) }));
}
