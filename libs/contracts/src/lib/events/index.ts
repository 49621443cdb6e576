import * as Alert from './alert';
import * as Candle from './candle';
import * as CepRule from './cep-rule';
import * as CepSideOutput from './cep-side-output';
import * as ChangeEvent from './change-event';
import * as DlqRecord from './dlq-record';
import * as EnrichedOptionQuote from './enriched-option-quote';
import * as Execution from './execution';
import * as FeatureVector from './feature-vector';
import * as LateTrade from './late-trade';
import * as NewsSentiment from './news-sentiment';
import * as OptionChainSnapshot from './option-chain-snapshot';
import * as OptionFlow from './option-flow';
import * as OptionQuote from './option-quote';
import * as OptionTrade from './option-trade';
import * as OrderBookUpdate from './order-book-update';
import * as Prediction from './prediction';
import * as QualityFinding from './quality-finding';
import * as RiskMetric from './risk-metric';
import * as TechnicalSignal from './technical-signal';
import * as TransactionBoundary from './transaction-boundary';
import * as UnderlyingQuote from './underlying-quote';
import * as UnderlyingTrade from './underlying-trade';

export {
  Alert,
  Candle,
  CepRule,
  CepSideOutput,
  ChangeEvent,
  DlqRecord,
  EnrichedOptionQuote,
  Execution,
  FeatureVector,
  LateTrade,
  NewsSentiment,
  OptionChainSnapshot,
  OptionFlow,
  OptionQuote,
  OptionTrade,
  OrderBookUpdate,
  Prediction,
  QualityFinding,
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
  EnrichedOptionQuote,
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
  CepRule,
  CepSideOutput,
  NewsSentiment,
  Candle,
  LateTrade,
  QualityFinding,
  ChangeEvent,
  TransactionBoundary,
  DlqRecord,
] as const;

export type EventName = (typeof EVENTS)[number]['name'];
