import * as Alert from './alert';
import * as Candle from './candle';
import * as ChangeEvent from './change-event';
import * as DlqRecord from './dlq-record';
import * as Execution from './execution';
import * as FeatureVector from './feature-vector';
import * as NewsSentiment from './news-sentiment';
import * as OptionChainSnapshot from './option-chain-snapshot';
import * as OptionFlow from './option-flow';
import * as OptionQuote from './option-quote';
import * as OptionTrade from './option-trade';
import * as OrderBookUpdate from './order-book-update';
import * as Prediction from './prediction';
import * as RiskMetric from './risk-metric';
import * as TechnicalSignal from './technical-signal';
import * as TransactionBoundary from './transaction-boundary';
import * as UnderlyingQuote from './underlying-quote';
import * as UnderlyingTrade from './underlying-trade';

export {
  Alert,
  Candle,
  ChangeEvent,
  DlqRecord,
  Execution,
  FeatureVector,
  NewsSentiment,
  OptionChainSnapshot,
  OptionFlow,
  OptionQuote,
  OptionTrade,
  OrderBookUpdate,
  Prediction,
  RiskMetric,
  TechnicalSignal,
  TransactionBoundary,
  UnderlyingQuote,
  UnderlyingTrade,
};

/** Every event contract, each at its current version: what the JSON Schema export publishes. */
export const EVENTS = [
  UnderlyingQuote,
  UnderlyingTrade,
  OptionQuote,
  OptionTrade,
  OptionChainSnapshot,
  OptionFlow,
  OrderBookUpdate,
  Execution,
  TechnicalSignal,
  FeatureVector,
  Prediction,
  RiskMetric,
  Alert,
  NewsSentiment,
  Candle,
  ChangeEvent,
  TransactionBoundary,
  DlqRecord,
] as const;

export type EventName = (typeof EVENTS)[number]['name'];
