import { nanosFromMicros, type OptionQuote, type OptionTrade, parseOccSymbol, type UnderlyingQuote } from '@tributary/contracts';
import type { TypedProducer } from '@tributary/kafka';
import { DEFAULT_FLOW_DETECTION } from '../chain/flow-detector';
import { INDEX_ETF_PRODUCT, type ListedProduct, RuleBasedListing, SINGLE_STOCK_PRODUCT } from '../chain/contract-listing';
import type { MarketEvent, MarketEventListener, MarketSource } from '../simulator/market-source';
import { SeededRandom } from '../simulator/seeded-random';
import { OptionsCollector } from './options-collector';

const UNDERLYINGS: Record<string, { product: ListedProduct; price: number }> = {
  SPY: { product: INDEX_ETF_PRODUCT, price: 575 },
  QQQ: { product: INDEX_ETF_PRODUCT, price: 495 },
  AAPL: { product: SINGLE_STOCK_PRODUCT, price: 226 },
  TSLA: { product: SINGLE_STOCK_PRODUCT, price: 280 },
  NVDA: { product: SINGLE_STOCK_PRODUCT, price: 118 },
};
const MAX_CONTRACTS = 1_000;
/** A hundred times the subscription limit: state that grew with the contracts seen would show. */
const CHURN_TARGET = 100_000;
/** Monday 2025-03-03 15:30 New York: the same-day expirations expire half an hour in. */
const START_MS = Date.UTC(2025, 2, 3, 20, 30);
/** Event time per step: the churn spans more than a day (closes, expirations, new sessions). */
const STEP_MS = 15 * 60_000;

/**
 * A market built to churn the chain: every step each underlying jumps far enough (tens of strikes) that
 * its whole selection is replaced, event time runs across closes, expirations and new trading days, and
 * the option stream keeps quoting and trading contracts just unsubscribed, as a vendor's stream does
 * for the messages already on their way.
 */
class ChurningMarket implements MarketSource {
  readonly name = 'churn';
  readonly listing = new RuleBasedListing(new Map(Object.entries(UNDERLYINGS).map(([symbol, { product }]) => [symbol, product])));
  /** Contracts subscribed over the whole run, and the largest subscription set seen. */
  subscribedTotal = 0;
  maxSubscriptions = 0;
  private readonly random = new SeededRandom('churn');
  private readonly subscribed = new Set<string>();
  private readonly recentlyDropped: string[] = [];
  private listener: MarketEventListener | undefined;
  private nowMs = START_MS;
  private sequence = 0;

  onEvents(listener: MarketEventListener): () => void {
    this.listener = listener;
    return () => (this.listener = undefined);
  }

  /** Events come from `step()`, driven by the test. */
  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  async subscribe(symbols: readonly string[]): Promise<void> {
    for (const symbol of symbols) {
      if (this.subscribed.has(symbol)) continue;
      this.subscribed.add(symbol);
      if (symbol.length > 6) this.subscribedTotal++;
    }
    this.maxSubscriptions = Math.max(this.maxSubscriptions, this.subscribed.size);
  }

  async unsubscribe(symbols: readonly string[]): Promise<void> {
    for (const symbol of symbols) {
      this.subscribed.delete(symbol);
      this.recentlyDropped.push(symbol);
    }
    if (this.recentlyDropped.length > 200) this.recentlyDropped.splice(0, this.recentlyDropped.length - 200);
  }

  subscriptions(): ReadonlySet<string> {
    return this.subscribed;
  }

  openInterest(): number {
    return 50;
  }

  /** One step of the market, handed to the collector; resolves when the collector took it. */
  async step(): Promise<void> {
    this.nowMs += STEP_MS;
    this.sequence = 0;
    const events: MarketEvent[] = [];
    for (const [symbol, underlying] of Object.entries(UNDERLYINGS)) {
      // A jump of 20 to 60 strike steps either way, kept within a band around the start.
      const step = underlying.product.strikes.stepAt(underlying.price);
      const jump = step * this.random.integer(20, 60) * (this.random.chance(0.5) ? 1 : -1);
      underlying.price = Math.min(underlying.price * 3, Math.max(underlying.price / 3, underlying.price + jump));
      events.push({ topic: 'market.quotes', value: this.quote(symbol, underlying.price) });
    }
    const live = [...this.subscribed].filter((symbol) => symbol.length > 6);
    for (let i = 0; i < 40 && live.length > 0; i++) this.optionEvents(live[this.random.integer(0, live.length - 1)], events);
    for (const symbol of this.recentlyDropped.slice(-20)) this.optionEvents(symbol, events);
    await this.listener?.(events);
  }

  /** Event time of the next event of this step: the step's millisecond plus a microsecond each. */
  private ts(): string {
    return nanosFromMicros(this.nowMs * 1000 + ++this.sequence);
  }

  private quote(symbol: string, price: number): UnderlyingQuote.Value {
    const bidCents = Math.round(price * 100) - 1;
    return { symbol, bidPrice: bidCents / 100, bidSize: 100, askPrice: (bidCents + 2) / 100, askSize: 100, bidExchange: 'Q', askExchange: 'P', ts: this.ts() };
  }

  /** A quote and a print (now and then a block, now and then sweep legs across exchanges) of a contract. */
  private optionEvents(symbol: string, events: MarketEvent[]): void {
    const contract = parseOccSymbol(symbol);
    if (!contract) throw new Error(`not an OCC symbol: ${symbol}`);
    const terms = { symbol, underlying: contract.root, expiration: contract.expiration, strike: contract.strike, right: contract.right };
    const quote: OptionQuote.Value = { ...terms, bidPrice: 1.2, bidSize: 10, askPrice: 1.3, askSize: 12, bidExchange: 'C', askExchange: 'X', ts: this.ts() };
    events.push({ topic: 'options.quotes', value: quote });
    for (const exchange of this.random.chance(0.2) ? ['C', 'X', 'I', 'Z'] : ['C']) {
      const trade: OptionTrade.Value = { ...terms, price: 1.3, size: this.random.chance(0.05) ? 800 : 20, exchange, conditions: ['S'], ts: this.ts() };
      events.push({ topic: 'options.trades', value: trade });
    }
  }
}

function instantProducer(): TypedProducer {
  return { producerId: 'options-collector/state-test', connect: async () => undefined, send: async () => undefined, sendRaw: async () => undefined } as unknown as TypedProducer;
}

describe('options collector state under contract churn', () => {
  it('keeps the chain book, the flow state and the NBBO cache within the subscription limit while over a hundred thousand contracts come and go', async () => {
    const market = new ChurningMarket();
    const collector = new OptionsCollector(market, instantProducer(), {
      underlyings: Object.keys(UNDERLYINGS),
      selection: { strikesPerExpiration: 10, maxDaysToExpiry: 30, maxContracts: MAX_CONTRACTS },
      // A snapshot every eight steps: each solves an IV per contract, and snapshots are not what this is about.
      snapshotIntervalMs: 8 * STEP_MS,
      riskFreeRate: 0.045,
      flow: DEFAULT_FLOW_DETECTION,
    });
    collector.start();
    await collector.started();

    const largest = { bookContracts: 0, bookUnderlyings: 0, selected: 0, pendingChanges: 0, quotes: 0, openSweeps: 0, sessionVolumes: 0 };
    let steps = 0;
    while (market.subscribedTotal < CHURN_TARGET) {
      await market.step();
      steps++;
      const size = collector.stateSize;
      largest.bookContracts = Math.max(largest.bookContracts, size.bookContracts);
      largest.bookUnderlyings = Math.max(largest.bookUnderlyings, size.bookUnderlyings);
      largest.selected = Math.max(largest.selected, size.selected);
      largest.pendingChanges = Math.max(largest.pendingChanges, size.pendingChanges);
      largest.quotes = Math.max(largest.quotes, size.flow.quotes);
      largest.openSweeps = Math.max(largest.openSweeps, size.flow.openSweeps);
      largest.sessionVolumes = Math.max(largest.sessionVolumes, size.flow.sessionVolumes);
    }
    await collector.stop();

    expect(market.subscribedTotal).toBeGreaterThanOrEqual(CHURN_TARGET);
    // The run crossed closes, expirations and new days, and published what came (stale contracts too).
    expect(steps * STEP_MS).toBeGreaterThan(86_400_000);
    expect(collector.status().published['options.flow']).toBeGreaterThan(0);

    expect(largest.selected).toBeLessThanOrEqual(MAX_CONTRACTS);
    expect(largest.bookContracts).toBeLessThanOrEqual(MAX_CONTRACTS);
    expect(largest.bookUnderlyings).toBeLessThanOrEqual(Object.keys(UNDERLYINGS).length);
    expect(largest.quotes).toBeLessThanOrEqual(MAX_CONTRACTS);
    expect(largest.sessionVolumes).toBeLessThanOrEqual(MAX_CONTRACTS);
    // Sweep windows are keyed by underlying, expiration, right and side, and close within 50 ms of event time.
    expect(largest.openSweeps).toBeLessThanOrEqual(MAX_CONTRACTS);
    expect(largest.pendingChanges).toBe(0);
    expect(market.maxSubscriptions).toBeLessThanOrEqual(MAX_CONTRACTS + Object.keys(UNDERLYINGS).length);
  });
});
