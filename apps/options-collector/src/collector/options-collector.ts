import type { Logger } from 'pino';
import { millisOfNanos, nanosFromMillis, type OptionChainSnapshot } from '@tributary/contracts';
import type { TypedProducer } from '@tributary/kafka';
import { type ChainSelectionConfig, ChainSelector, type SelectionChange } from '../chain/chain-selector';
import { type FlowDetectionConfig, FlowDetector } from '../chain/flow-detector';
import type { MarketEvent, MarketSource, VendorAnalytics } from '../simulator/market-source';
import { ChainBook, type ContractMarket } from './chain-book';
import { buildChainSnapshot, midOf } from './chain-snapshot';
import type { CollectorMetrics } from './collector-metrics';
import { type CollectorTopic, OutgoingBatch } from './outgoing-batch';
import { ProducerLanes } from './producer-lanes';

export interface OptionsCollectorOptions {
  readonly underlyings: readonly string[];
  readonly selection: ChainSelectionConfig;
  /** Event time between two snapshots of each chain. */
  readonly snapshotIntervalMs: number;
  readonly riskFreeRate: number;
  readonly flow: FlowDetectionConfig;
  /**
   * Source batches being published at once. The source waits while this many are unacknowledged, so
   * at most this many batches are held in memory whatever the broker does. Default 2.
   */
  readonly maxBatchesInFlight?: number;
  /** Wait before retrying a failed send; doubles up to `retryMaxMs`. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly metrics?: CollectorMetrics;
  readonly logger?: Logger;
  /**
   * The latest event time already published (epoch ms), read once the broker answers; the source
   * resumes after it (a simulator restarted on the same topics does not go back in event time).
   */
  readonly lastPublishedEventTimeMs?: () => Promise<number | undefined>;
}

/** One contract of `GET /chains/:underlying`; `vendor`: the source's own IV and Greeks, when it has them. */
export type ChainRow = OptionChainSnapshot.ChainContract & { mid: number | null };

export interface ChainView {
  readonly underlying: string;
  readonly underlyingPrice: number | null;
  readonly ts: string | null;
  readonly riskFreeRate: number;
  readonly dividendYield: number;
  readonly contracts: ChainRow[];
}

export interface CollectorStatus {
  readonly source: string;
  /** The vendor connection as the source reports it (streams, subscriptions, symbol limit, last error); null for the simulator. */
  readonly connection: unknown;
  /** starting: waiting for the broker; publishing: records flow; retrying: sends fail, the source is held. */
  readonly state: 'starting' | 'publishing' | 'retrying' | 'stopped';
  readonly underlyings: Record<string, { subscriptions: number; price: number | null }>;
  readonly subscriptions: number;
  readonly eventsPerSecond: number;
  readonly lastEventTime: string | null;
  readonly published: Record<string, number>;
  readonly deadLettered: Record<string, number>;
  readonly batchesInFlight: number;
}

const RATE_WINDOW_MS = 5_000;

/**
 * The collector's pipeline: market source → validation → chain book, chain selection and flow
 * detection → Kafka. Every record is validated before it is produced; an invalid one goes to its topic's
 * DLQ with the reason. The source is held back while the producer has `maxBatchesInFlight` batches
 * unacknowledged, and while sends fail (retried with backoff until the broker takes them), so memory
 * stays bounded through an outage. Snapshots and flows take their time from the events.
 */
export class OptionsCollector {
  private readonly selector: ChainSelector;
  private readonly book = new ChainBook();
  private readonly flow: FlowDetector;
  private readonly maxInFlight: number;
  /** The producers, each underlying always through the same one. */
  private readonly target: ProducerLanes;
  private readonly vendorOf: ((symbol: string) => VendorAnalytics | undefined) | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private lastPublish: Promise<void> = Promise.resolve();
  private nextSnapshotMs: number | undefined;
  private lastEventTs: string | null = null;
  private state: CollectorStatus['state'] = 'starting';
  private stopping = false;
  private startup: Promise<void> | undefined;
  private unsubscribeListener: (() => void) | undefined;
  private pendingChanges: SelectionChange[] = [];
  private readonly published = new Map<string, number>();
  private readonly deadLettered = new Map<string, number>();
  /** Published event counts in one-second buckets of wall time, for the rate. */
  private readonly rateBuckets: { second: number; count: number }[] = [];

  constructor(
    private readonly source: MarketSource,
    producers: TypedProducer | readonly TypedProducer[],
    private readonly options: OptionsCollectorOptions,
  ) {
    this.target = new ProducerLanes(producers, options.underlyings);
    this.selector = new ChainSelector(source.listing, options.selection);
    this.flow = new FlowDetector(options.flow);
    this.maxInFlight = Math.max(1, options.maxBatchesInFlight ?? 2);
    const vendorAnalytics = source.vendorAnalytics?.bind(source);
    this.vendorOf = vendorAnalytics ? (symbol) => vendorAnalytics(symbol) : undefined;
    for (const underlying of options.underlyings) this.selector.addUnderlying(underlying);
  }

  /** Returns at once; the source starts once the broker answers. */
  start(): void {
    if (this.startup) return;
    this.stopping = false;
    this.unsubscribeListener = this.source.onEvents((events) => this.onEvents(events));
    this.startup = this.startWhenBrokerAnswers();
  }

  /** Resolves once the broker accepted a connection and the source runs. */
  started(): Promise<void> {
    return this.startup ?? Promise.reject(new Error('the collector was not started'));
  }

  /** Stops the source, then waits for what is in flight (giving up on retries). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.startup?.catch(() => undefined);
    await this.source.stop();
    await Promise.allSettled([...this.inFlight]);
    this.unsubscribeListener?.();
    this.state = 'stopped';
  }

  /** The selected chain of an underlying now, or undefined when it is not collected. */
  chain(underlying: string): ChainView | undefined {
    if (!this.selector.underlyings.includes(underlying)) return undefined;
    const market = this.book.underlying(underlying);
    const dividendYield = this.source.dividendYield?.(underlying) ?? 0;
    if (!market || !(market.price > 0) || this.lastEventTs === null) {
      return {
        underlying,
        underlyingPrice: null,
        ts: null,
        riskFreeRate: this.options.riskFreeRate,
        dividendYield,
        contracts: [],
      };
    }
    const snapshot = this.snapshotOf(underlying, market.price, this.lastEventTs);
    return {
      underlying,
      underlyingPrice: snapshot.underlyingPrice,
      ts: snapshot.ts,
      riskFreeRate: snapshot.riskFreeRate,
      dividendYield,
      contracts: snapshot.contracts.map((row) => ({ ...row, mid: midOf(row.bid, row.ask) })),
    };
  }

  status(): CollectorStatus {
    const underlyings: CollectorStatus['underlyings'] = {};
    for (const underlying of this.selector.underlyings) {
      const price = this.book.underlying(underlying)?.price;
      underlyings[underlying] = {
        subscriptions: this.selector.selected(underlying).length,
        price: price !== undefined && price > 0 ? price : null,
      };
    }
    return {
      source: this.source.name,
      connection: this.source.connectionStatus?.() ?? null,
      state: this.state,
      underlyings,
      subscriptions: this.source.subscriptions().size,
      eventsPerSecond: this.eventsPerSecond(),
      lastEventTime: this.lastEventTs,
      published: Object.fromEntries(this.published),
      deadLettered: Object.fromEntries(this.deadLettered),
      batchesInFlight: this.inFlight.size,
    };
  }

  /** Entries held in each piece of state, for bounded-state checks. */
  get stateSize(): {
    bookContracts: number;
    bookUnderlyings: number;
    selected: number;
    pendingChanges: number;
    flow: FlowDetector['stateSize'];
  } {
    return {
      bookContracts: this.book.size,
      bookUnderlyings: this.book.underlyingCount,
      selected: this.selector.size,
      pendingChanges: this.pendingChanges.length,
      flow: this.flow.stateSize,
    };
  }

  private async startWhenBrokerAnswers(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.target.connect();
        break;
      } catch (error) {
        this.options.logger?.warn({ err: error, attempt }, 'the Kafka broker does not answer yet; the source waits');
        await sleep(this.backoffMs(attempt));
      }
    }
    if (this.stopping) return;
    if (this.source.resumeAfter !== undefined && this.options.lastPublishedEventTimeMs !== undefined) {
      try {
        const last = await this.options.lastPublishedEventTimeMs();
        if (last !== undefined) {
          const moved = this.source.resumeAfter(last);
          this.options.logger?.info(
            { after: new Date(last).toISOString(), moved },
            moved ? 'the source resumes after the latest event time already published' : 'the latest published event time is too recent to resume after (the next session would open in the future)',
          );
        }
      } catch (error) {
        this.options.logger?.warn({ err: error }, 'could not read the latest published event time; the source starts at its configured time');
      }
    }
    await this.source.subscribe(this.options.underlyings);
    await this.source.start();
    this.state = 'publishing';
    this.options.logger?.info(
      { source: this.source.name, underlyings: this.options.underlyings },
      'collecting market data',
    );
  }

  private async onEvents(events: readonly MarketEvent[]): Promise<void> {
    const emittedAt = performance.now();
    const batch = new OutgoingBatch(this.target);
    let lastTs: string | undefined;
    for (const event of events) {
      const value = batch.add(event.topic, event.value);
      if (value === undefined) continue;
      lastTs = value.ts;
      this.snapshotIfDue(value.ts, batch);
      this.apply(event.topic, value, batch);
    }
    if (lastTs !== undefined) {
      this.lastEventTs = lastTs;
      for (const flow of this.flow.advanceTo(lastTs)) batch.add('options.flow', flow);
      this.noteChange(this.selector.onTime(lastTs));
    }
    await this.applySelectionChanges();
    if (batch.isEmpty) return;
    this.publish(batch, emittedAt);
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
  }

  private apply(topic: MarketEvent['topic'], value: MarketEvent['value'], batch: OutgoingBatch): void {
    switch (topic) {
      case 'market.quotes': {
        const quote = value as MarketEventValue<'market.quotes'>;
        this.onUnderlyingPrice(quote.symbol, this.book.onUnderlyingQuote(quote), quote.ts);
        return;
      }
      case 'market.trades': {
        const trade = value as MarketEventValue<'market.trades'>;
        this.onUnderlyingPrice(trade.symbol, this.book.onUnderlyingTrade(trade), trade.ts);
        return;
      }
      // A contract no longer selected (a vendor's message still on its way after the unsubscribe) is
      // published but kept out of the book and the flow state, which follow the selection only.
      case 'options.quotes': {
        const quote = value as MarketEventValue<'options.quotes'>;
        if (!this.book.onOptionQuote(quote)) return;
        this.flow.onQuote(quote);
        return;
      }
      case 'options.trades': {
        const trade = value as MarketEventValue<'options.trades'>;
        if (!this.book.onOptionTrade(trade)) return;
        for (const flow of this.flow.onTrade(trade, this.source.openInterest(trade.symbol))) {
          batch.add('options.flow', flow);
        }
        return;
      }
    }
  }

  private onUnderlyingPrice(underlying: string, price: number | undefined, ts: string): void {
    if (price === undefined) return;
    this.flow.onUnderlyingPrice(underlying, price);
    this.noteChange(this.selector.onUnderlyingPrice(underlying, price, ts));
  }

  /** Applies a selection change to the book at once (later events of the batch see it). */
  private noteChange(change: SelectionChange): void {
    if (change.subscribe.length === 0 && change.unsubscribe.length === 0) return;
    for (const symbol of change.unsubscribe) {
      this.book.forget(symbol);
      this.flow.forget(symbol);
    }
    for (const contract of change.subscribe) this.book.track(contract);
    this.pendingChanges.push(change);
  }

  /** Subscribes and unsubscribes on the source only the difference. */
  private async applySelectionChanges(): Promise<void> {
    if (this.pendingChanges.length === 0) return;
    const changes = this.pendingChanges;
    this.pendingChanges = [];
    for (const change of changes) {
      if (change.unsubscribe.length > 0) await this.source.unsubscribe(change.unsubscribe);
      if (change.subscribe.length > 0) await this.source.subscribe(change.subscribe.map((contract) => contract.symbol));
    }
    for (const underlying of this.selector.underlyings) {
      this.options.metrics?.activeContracts.set({ underlying }, this.selector.selected(underlying).length);
    }
  }

  /** At each snapshot boundary of event time, one snapshot per underlying, as of the events before it. */
  private snapshotIfDue(ts: string, batch: OutgoingBatch): void {
    const interval = this.options.snapshotIntervalMs;
    const tsMs = millisOfNanos(ts);
    if (this.nextSnapshotMs === undefined) {
      this.nextSnapshotMs = (Math.floor(tsMs / interval) + 1) * interval;
      return;
    }
    if (tsMs < this.nextSnapshotMs) return;
    const at = nanosFromMillis(this.nextSnapshotMs);
    // After a gap (a night, a weekend) one snapshot, not one per missed interval.
    this.nextSnapshotMs = (Math.floor(tsMs / interval) + 1) * interval;
    for (const underlying of this.selector.underlyings) {
      const market = this.book.underlying(underlying);
      if (!market || !(market.price > 0) || this.selector.selected(underlying).length === 0) continue;
      batch.add('options.chains', this.snapshotOf(underlying, market.price, at));
    }
  }

  private contractsOf(underlying: string): ContractMarket[] {
    const markets: ContractMarket[] = [];
    for (const contract of this.selector.selected(underlying)) {
      const market = this.book.contract(contract.symbol);
      if (market) markets.push(market);
    }
    return markets;
  }

  private snapshotOf(underlying: string, price: number, ts: string): OptionChainSnapshot.Value {
    return buildChainSnapshot({
      underlying,
      underlyingPrice: price,
      ts,
      riskFreeRate: this.options.riskFreeRate,
      dividendYield: this.source.dividendYield?.(underlying) ?? 0,
      contracts: this.contractsOf(underlying),
      volumeOf: (market) => this.book.volumeAt(market, ts),
      openInterestOf: (symbol) => this.source.openInterest(symbol),
      vendorOf: this.vendorOf,
      vendorSource: this.source.name,
    });
  }

  private publish(batch: OutgoingBatch, emittedAt: number): void {
    const previous = this.lastPublish;
    const done = this.publishUntilAcknowledged(batch, previous, emittedAt);
    this.lastPublish = done;
    this.inFlight.add(done);
    void done.finally(() => this.inFlight.delete(done));
  }

  private async publishUntilAcknowledged(batch: OutgoingBatch, previous: Promise<void>, emittedAt: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await batch.send();
        break;
      } catch (error) {
        if (this.stopping) {
          this.options.logger?.error(
            { err: error, records: batch.unsentCount() },
            'shutting down while the broker refuses records: these were not published',
          );
          return;
        }
        if (this.state !== 'retrying') {
          this.options.logger?.warn({ err: error }, 'publishing failed; the source is held until the broker takes records again');
        }
        this.state = 'retrying';
        // Retries keep the order of the batches: an earlier batch goes first.
        await previous;
        await sleep(this.backoffMs(attempt));
      }
    }
    if (this.state === 'retrying') {
      this.options.metrics?.reconnects.inc({ connection: 'broker' });
      this.options.logger?.info('the broker takes records again; publishing resumed');
    }
    if (this.state !== 'stopped') this.state = 'publishing';
    this.options.metrics?.sourceToPublish.observe((performance.now() - emittedAt) / 1000);
    let total = 0;
    for (const [topic, count] of batch.counts) {
      this.published.set(topic, (this.published.get(topic) ?? 0) + count);
      if (isMarketTopic(topic)) {
        this.options.metrics?.updates.inc({ topic }, count);
        total += count;
      }
    }
    for (const [topic, count] of batch.invalidByTopic()) {
      this.deadLettered.set(topic, (this.deadLettered.get(topic) ?? 0) + count);
      this.options.metrics?.invalidRecords.inc({ topic }, count);
    }
    this.countRate(total);
  }

  private countRate(count: number): void {
    const second = Math.floor(performance.now() / 1000);
    const last = this.rateBuckets[this.rateBuckets.length - 1];
    if (last?.second === second) last.count += count;
    else this.rateBuckets.push({ second, count });
    while (this.rateBuckets.length > 0 && this.rateBuckets[0].second <= second - RATE_WINDOW_MS / 1000) {
      this.rateBuckets.shift();
    }
    this.options.metrics?.updatesPerSecond.set(this.eventsPerSecond());
  }

  /** Events published per second over the last complete seconds. */
  private eventsPerSecond(): number {
    const now = Math.floor(performance.now() / 1000);
    let count = 0;
    let seconds = 0;
    for (const bucket of this.rateBuckets) {
      if (bucket.second >= now || bucket.second < now - RATE_WINDOW_MS / 1000) continue;
      count += bucket.count;
      seconds++;
    }
    const window = Math.max(seconds, Math.min(RATE_WINDOW_MS / 1000, this.rateBuckets.length > 0 ? now - this.rateBuckets[0].second : 0));
    return window > 0 ? Math.round(count / window) : 0;
  }

  private backoffMs(attempt: number): number {
    const base = this.options.retryBaseMs ?? 200;
    const max = this.options.retryMaxMs ?? 10_000;
    return Math.min(max, base * 2 ** Math.min(attempt, 16));
  }
}

type MarketEventValue<T extends MarketEvent['topic']> = Extract<MarketEvent, { topic: T }>['value'];

function isMarketTopic(topic: CollectorTopic): boolean {
  return topic !== 'options.chains' && topic !== 'options.flow';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
