import type { EventOf } from '@tributary/contracts';
import type { ContractListing } from '../chain/contract-listing';

/** A vendor's own implied volatility and Greeks of a contract (units as the vendor sends them). */
export interface VendorAnalytics {
  readonly iv?: number;
  readonly greeks?: { delta?: number; gamma?: number; theta?: number; vega?: number; rho?: number };
}

/** The topics a market source feeds. */
export type MarketTopic = 'market.quotes' | 'market.trades' | 'options.quotes' | 'options.trades';

/** How a deliberately corrupted record is broken (simulator fault mode). */
export type FaultKind = 'negative-price' | 'crossed-quote' | 'future-timestamp' | 'missing-field' | 'unknown-symbol';

/**
 * One market event with the topic it belongs on. `fault` is set only on records the simulator
 * corrupted on purpose: they do not satisfy the contract and must end in the topic's DLQ.
 */
export type MarketEvent = {
  [T in MarketTopic]: { readonly topic: T; readonly value: EventOf<T>; readonly fault?: FaultKind };
}[MarketTopic];

/**
 * Receives events in event-time order, in batches. Returning a promise holds the source back until it
 * settles (backpressure from a producer whose buffer is full).
 */
export type MarketEventListener = (events: readonly MarketEvent[]) => void | Promise<void>;

/**
 * A feed of underlying and option market data: the built-in simulator or a vendor (Alpaca). The
 * collector subscribes the underlyings and the contracts its chain selection picks; the source emits
 * events only for what is subscribed.
 */
export interface MarketSource {
  /** For logs and /status, e.g. "simulator" or "alpaca". */
  readonly name: string;
  /** The contracts that exist, for chain selection. */
  readonly listing: ContractListing;
  /** Registers a listener; the returned function removes it. */
  onEvents(listener: MarketEventListener): () => void;
  start(): Promise<void>;
  /** Stops emitting; resolves once no listener call is in progress. */
  stop(): Promise<void>;
  /** Underlying tickers and OCC option symbols; subscribing twice is harmless. */
  subscribe(symbols: readonly string[]): Promise<void>;
  unsubscribe(symbols: readonly string[]): Promise<void>;
  /** Symbols currently subscribed. */
  subscriptions(): ReadonlySet<string>;
  /** Open interest of a contract as of the previous close, when the source knows it. */
  openInterest(symbol: string): number | undefined;
  /** Continuous dividend yield of an underlying, when the source knows it (for implied volatility). */
  dividendYield?(underlying: string): number | undefined;
  /** Implied volatility and Greeks as the vendor computed them for a contract, when the source has them. */
  vendorAnalytics?(symbol: string): VendorAnalytics | undefined;
  /**
   * Continue after this event time (epoch ms): a simulated source moves its clock past it before it
   * starts, so a restart never goes back in event time. Vendors have real time and ignore it.
   */
  resumeAfter?(eventTimeMs: number): boolean;
  /** The state of a vendor connection (streams, subscriptions, limits, last error), for `GET /status`. */
  connectionStatus?(): unknown;
}
