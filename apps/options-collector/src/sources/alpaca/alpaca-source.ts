import type { Logger } from 'pino';
import { parseOccSymbol } from '@tributary/contracts';
import { dateOfDay, easternDay } from '../../chain/market-calendar';
import type { MarketEvent, MarketEventListener, MarketSource, VendorAnalytics } from '../../simulator/market-source';
import { AlpacaFatalError, AlpacaHttpError } from './alpaca-errors';
import { type AlpacaCredentials, AlpacaHttpClient, sleep } from './alpaca-http';
import { AlpacaContractListing, normaliseOccSymbol } from './alpaca-listing';
import { nanosOfWireTime } from './alpaca-msgpack';
import { type AlpacaOptionSnapshot, AlpacaRestApi, type AlpacaStockQuote } from './alpaca-rest';
import { AlpacaStream, type StreamDataMessage, type StreamStatus } from './alpaca-stream';

export type AlpacaOptionsFeed = 'indicative' | 'opra';
export type AlpacaStocksFeed = 'iex' | 'sip' | 'delayed_sip';

export interface AlpacaSourceOptions {
  readonly credentials: AlpacaCredentials;
  /** Trading API, e.g. https://api.alpaca.markets (contracts). */
  readonly tradingUrl: string;
  /** Market data API, e.g. https://data.alpaca.markets (snapshots). */
  readonly dataUrl: string;
  /** Market data streams, e.g. wss://stream.data.alpaca.markets (the feed paths are appended). */
  readonly streamUrl: string;
  readonly optionsFeed: AlpacaOptionsFeed;
  readonly stocksFeed: AlpacaStocksFeed;
  readonly underlyings: readonly string[];
  /** Contracts expiring further out than this many days are not listed. */
  readonly maxDaysToExpiry: number;
  /** Interval between two reloads of the contract list (new expirations, open interest); 0: never. */
  readonly contractsRefreshMs: number;
  /** Interval between two reloads of the vendor snapshots (Greeks, IV); 0: only at start. */
  readonly snapshotsRefreshMs: number;
  /** Backoff of REST retries and of stream reconnects. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Attempts of one REST request before the source waits and tries the whole load again. */
  readonly httpMaxAttempts?: number;
  readonly pingIntervalMs?: number;
  readonly authTimeoutMs?: number;
  readonly logger?: Logger;
  /** A stream ("options", "stocks") is streaming again after a lost connection. */
  readonly onReconnect?: (connection: string) => void;
  readonly onListenerError?: (error: unknown) => void;
  /** Wall clock, for the window of expirations to list. */
  readonly nowMs?: () => number;
  readonly random?: () => number;
}

/** What `GET /status` shows of the Alpaca connection. */
export interface AlpacaConnectionStatus {
  readonly state: 'idle' | 'loading-contracts' | 'streaming' | 'failed' | 'stopped';
  readonly error: string | null;
  readonly contractsListed: number;
  readonly contractsLoadedAt: string | null;
  readonly contractsRefused: number;
  readonly vendorSnapshots: number;
  readonly rateLimitedRequests: number;
  readonly eventsForUnsubscribedSymbols: number;
  readonly streams: Record<string, StreamStatus>;
}

/**
 * Market data from Alpaca: the contract list from the trading API (the listing chain selection reads,
 * open interest), snapshots from the data API (vendor Greeks and IV, the latest quotes to start from),
 * and live quotes and trades from two msgpack WebSocket streams: the option feed (indicative or OPRA)
 * for the selected contracts and the stock feed for the underlyings. Emits the same events as the
 * simulator; timestamps keep their nanoseconds.
 */
export class AlpacaMarketSource implements MarketSource {
  readonly name = 'alpaca';
  readonly listing: AlpacaContractListing;
  private readonly http: AlpacaHttpClient;
  private readonly rest: AlpacaRestApi;
  private readonly options: AlpacaStream;
  private readonly stocks: AlpacaStream;
  private readonly listeners = new Set<MarketEventListener>();
  private readonly subscribed = new Set<string>();
  private vendor = new Map<string, AlpacaOptionSnapshot>();
  private emitting: Promise<void> = Promise.resolve();
  private state: AlpacaConnectionStatus['state'] = 'idle';
  private error: string | null = null;
  private contractsLoadedAt: string | null = null;
  private contractsRefused = 0;
  private unsubscribedEvents = 0;
  private readonly abort = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly nowMs: () => number;

  constructor(private readonly config: AlpacaSourceOptions) {
    this.nowMs = config.nowMs ?? Date.now;
    this.listing = new AlpacaContractListing(config.underlyings);
    this.http = new AlpacaHttpClient({
      credentials: config.credentials,
      retryBaseMs: config.retryBaseMs,
      retryMaxMs: config.retryMaxMs,
      maxAttempts: config.httpMaxAttempts,
      logger: config.logger,
      random: config.random,
    });
    this.rest = new AlpacaRestApi(
      this.http,
      { trading: config.tradingUrl, data: config.dataUrl },
      config.optionsFeed,
      config.stocksFeed,
    );
    const base = config.streamUrl.replace(/\/+$/, '');
    const stream = (name: string, path: string, onMessages: (messages: StreamDataMessage[]) => Promise<void>): AlpacaStream =>
      new AlpacaStream({
        name,
        url: `${base}/${path}`,
        credentials: config.credentials,
        channels: ['trades', 'quotes'],
        onMessages,
        onReconnect: () => config.onReconnect?.(name),
        onFatal: (error) => this.onFatal(error),
        logger: config.logger,
        reconnectBaseMs: config.retryBaseMs,
        reconnectMaxMs: config.retryMaxMs,
        pingIntervalMs: config.pingIntervalMs,
        authTimeoutMs: config.authTimeoutMs,
        random: config.random,
      });
    this.options = stream('options', `v1beta1/${config.optionsFeed}`, (messages) => this.onOptionMessages(messages));
    this.stocks = stream('stocks', `v2/${config.stocksFeed}`, (messages) => this.onStockMessages(messages));
  }

  onEvents(listener: MarketEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Loads the contract list (retrying while Alpaca is unreachable; rejecting at once when it refuses the
   * credentials), the vendor snapshots and the underlyings' latest quotes, then opens both streams.
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'loading-contracts';
    await this.loadContractsUntilDone();
    await this.loadVendorSnapshots();
    const seeds = [...(await this.underlyingSeeds()), ...this.optionSeeds([...this.subscribed])];
    this.enqueue(sortByTime(seeds));
    this.state = 'streaming';
    this.options.start();
    this.stocks.start();
    if (this.config.contractsRefreshMs > 0) {
      this.every(this.config.contractsRefreshMs, () => this.refreshContracts());
    }
    if (this.config.snapshotsRefreshMs > 0) {
      this.every(this.config.snapshotsRefreshMs, () => this.loadVendorSnapshots());
    }
  }

  /** Resolves once both streams are authenticated and subscribed (for tests and start-up checks). */
  async whenStreaming(): Promise<void> {
    await Promise.all([this.options.whenStreaming(), this.stocks.whenStreaming()]);
  }

  async stop(): Promise<void> {
    if (this.state !== 'failed') this.state = 'stopped';
    this.abort.abort(new Error('the Alpaca source stopped'));
    for (const timer of this.timers) clearInterval(timer);
    await Promise.all([this.options.stop(), this.stocks.stop()]);
    await this.emitting.catch(() => undefined);
  }

  /** Tickers go to the stock stream, OCC symbols (padded or not) in compact form to the option stream. */
  async subscribe(symbols: readonly string[]): Promise<void> {
    const { options, stocks } = this.route(symbols, 'subscribe');
    const fresh = options.filter((symbol) => !this.subscribed.has(symbol));
    for (const symbol of [...options, ...stocks]) this.subscribed.add(symbol);
    if (options.length > 0) this.options.subscribe(options);
    if (stocks.length > 0) this.stocks.subscribe(stocks);
    if (fresh.length > 0 && this.state === 'streaming') this.enqueue(sortByTime(this.optionSeeds(fresh)));
  }

  async unsubscribe(symbols: readonly string[]): Promise<void> {
    const { options, stocks } = this.route(symbols, 'unsubscribe');
    for (const symbol of [...options, ...stocks]) this.subscribed.delete(symbol);
    if (options.length > 0) this.options.unsubscribe(options);
    if (stocks.length > 0) this.stocks.unsubscribe(stocks);
  }

  subscriptions(): ReadonlySet<string> {
    return this.subscribed;
  }

  openInterest(symbol: string): number | undefined {
    return this.listing.openInterest(symbol);
  }

  /** The vendor's Greeks and IV of a contract, from the last snapshot load. */
  vendorAnalytics(symbol: string): VendorAnalytics | undefined {
    const snapshot = this.vendor.get(symbol);
    if (!snapshot) return undefined;
    const analytics: { iv?: number; greeks?: VendorAnalytics['greeks'] } = {};
    if (typeof snapshot.impliedVolatility === 'number' && Number.isFinite(snapshot.impliedVolatility)) {
      analytics.iv = snapshot.impliedVolatility;
    }
    if (snapshot.greeks) {
      const greeks: Record<string, number> = {};
      for (const name of ['delta', 'gamma', 'theta', 'vega', 'rho'] as const) {
        const value = snapshot.greeks[name];
        if (typeof value === 'number' && Number.isFinite(value)) greeks[name] = value;
      }
      if (Object.keys(greeks).length > 0) analytics.greeks = greeks;
    }
    return analytics.iv === undefined && analytics.greeks === undefined ? undefined : analytics;
  }

  connectionStatus(): AlpacaConnectionStatus {
    return {
      state: this.state,
      error: this.error,
      contractsListed: this.listing.size,
      contractsLoadedAt: this.contractsLoadedAt,
      contractsRefused: this.contractsRefused,
      vendorSnapshots: this.vendor.size,
      rateLimitedRequests: this.http.rateLimited,
      eventsForUnsubscribedSymbols: this.unsubscribedEvents,
      streams: { options: this.options.status(), stocks: this.stocks.status() },
    };
  }

  private route(symbols: readonly string[], action: string): { options: string[]; stocks: string[] } {
    const options: string[] = [];
    const stocks: string[] = [];
    for (const raw of symbols) {
      const text = raw.trim().toUpperCase();
      if (/\d{6}[CP]\d{8}$/.test(text)) {
        const symbol = normaliseOccSymbol(text);
        if (symbol === undefined) {
          this.config.logger?.warn({ symbol: raw, action }, 'not an OCC option symbol: ignored');
        } else if (action === 'subscribe' && this.listing.size > 0 && !this.listing.contract(symbol)) {
          this.config.logger?.warn({ symbol }, 'Alpaca does not list this contract: not subscribed');
        } else {
          options.push(symbol);
        }
      } else if (/^[A-Z0-9][A-Z0-9./-]{0,19}$/.test(text)) {
        stocks.push(text);
      } else {
        this.config.logger?.warn({ symbol: raw, action }, 'not a ticker or an OCC option symbol: ignored');
      }
    }
    return { options, stocks };
  }

  private async loadContractsUntilDone(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.refreshContracts(true);
        return;
      } catch (error) {
        if (this.abort.signal.aborted) throw error;
        if (error instanceof AlpacaFatalError || error instanceof AlpacaHttpError) {
          this.state = 'failed';
          this.error = error.message;
          throw error;
        }
        const waitMs = Math.min(this.config.retryMaxMs ?? 30_000, (this.config.retryBaseMs ?? 500) * 2 ** Math.min(attempt, 16));
        this.error = error instanceof Error ? error.message : String(error);
        this.config.logger?.warn({ reason: this.error, attempt, waitMs }, 'the Alpaca contract list could not be loaded; retrying');
        await sleep(waitMs, this.abort.signal);
      }
    }
  }

  /** Lists the active contracts of the underlyings from today to the horizon; keeps the old list on failure after start. */
  private async refreshContracts(initial = false): Promise<void> {
    const today = easternDay(this.nowMs());
    try {
      const contracts = await this.rest.optionContracts(
        {
          underlyings: this.config.underlyings,
          expirationFrom: dateOfDay(today),
          expirationTo: dateOfDay(today + this.config.maxDaysToExpiry),
        },
        this.abort.signal,
      );
      const refused = this.listing.load(contracts);
      this.contractsRefused = refused.length;
      this.contractsLoadedAt = new Date(this.nowMs()).toISOString();
      this.error = null;
      if (refused.length > 0) {
        this.config.logger?.warn(
          { refused: refused.length, examples: refused.slice(0, 5) },
          'contracts of the Alpaca list left out',
        );
      }
      this.config.logger?.info({ contracts: this.listing.size, underlyings: this.config.underlyings }, 'Alpaca option contracts listed');
    } catch (error) {
      if (initial) throw error;
      if (!this.abort.signal.aborted) {
        this.config.logger?.warn({ err: error }, 'reloading the Alpaca contract list failed; the previous list stays');
      }
    }
  }

  /** Vendor Greeks and IV, and latest option quotes, per underlying; a failure leaves the previous ones. */
  private async loadVendorSnapshots(): Promise<void> {
    const horizon = dateOfDay(easternDay(this.nowMs()) + this.config.maxDaysToExpiry);
    const next = new Map<string, AlpacaOptionSnapshot>();
    for (const underlying of this.config.underlyings) {
      try {
        const snapshots = await this.rest.optionSnapshots(underlying, horizon, this.abort.signal);
        for (const [raw, snapshot] of snapshots) {
          const symbol = normaliseOccSymbol(raw);
          if (symbol !== undefined && this.listing.contract(symbol)) next.set(symbol, snapshot);
        }
      } catch (error) {
        if (this.abort.signal.aborted) return;
        this.config.logger?.warn({ err: error, underlying }, 'Alpaca option snapshots could not be loaded; vendor Greeks stay as they were');
        for (const [symbol, snapshot] of this.vendor) {
          if (this.listing.contract(symbol)?.underlying === underlying) next.set(symbol, snapshot);
        }
      }
    }
    this.vendor = next;
  }

  /** The underlyings' latest quotes, so chain selection starts before the first live update (and outside market hours). */
  private async underlyingSeeds(): Promise<MarketEvent[]> {
    let snapshots;
    try {
      snapshots = await this.rest.stockSnapshots(this.config.underlyings, this.abort.signal);
    } catch (error) {
      if (!this.abort.signal.aborted) {
        this.config.logger?.warn({ err: error }, 'Alpaca stock snapshots could not be loaded; waiting for live quotes');
      }
      return [];
    }
    const events: MarketEvent[] = [];
    for (const [symbol, snapshot] of snapshots) {
      if (snapshot.latestQuote && this.subscribed.has(symbol)) events.push(stockQuoteEvent(symbol, snapshot.latestQuote));
    }
    return events;
  }

  /** The snapshot quotes of contracts, so a newly selected contract shows in the chain before its first live quote. */
  private optionSeeds(symbols: readonly string[]): MarketEvent[] {
    const events: MarketEvent[] = [];
    for (const symbol of symbols) {
      const quote = this.vendor.get(symbol)?.latestQuote;
      if (quote) events.push(this.optionQuoteEvent(symbol, quote as Readonly<Record<string, unknown>>));
    }
    return events;
  }

  private onOptionMessages(messages: StreamDataMessage[]): Promise<void> {
    const events: MarketEvent[] = [];
    for (const message of messages) {
      if (message.T !== 'q' && message.T !== 't') continue;
      const symbol = normaliseOccSymbol(message.S) ?? message.S;
      if (!this.subscribed.has(symbol)) {
        this.unsubscribedEvents++;
        continue;
      }
      events.push(message.T === 'q' ? this.optionQuoteEvent(symbol, message) : this.optionTradeEvent(symbol, message));
    }
    return this.enqueue(events);
  }

  private onStockMessages(messages: StreamDataMessage[]): Promise<void> {
    const events: MarketEvent[] = [];
    for (const message of messages) {
      if (message.T !== 'q' && message.T !== 't') continue;
      if (!this.subscribed.has(message.S)) {
        this.unsubscribedEvents++;
        continue;
      }
      events.push(message.T === 'q' ? stockQuoteEvent(message.S, message as AlpacaStockQuote) : stockTradeEvent(message));
    }
    return this.enqueue(events);
  }

  private optionTerms(symbol: string): Record<string, unknown> {
    const terms = parseOccSymbol(symbol);
    if (!terms) return { symbol };
    const underlying = this.listing.contract(symbol)?.underlying ?? this.listing.underlyingOfRoot(terms.root);
    return { symbol, underlying, expiration: terms.expiration, strike: terms.strike, right: terms.right };
  }

  /** Fields are passed on as sent: validation in the collector sends a malformed record to the DLQ with the reason. */
  private optionQuoteEvent(symbol: string, quote: Readonly<Record<string, unknown>>): MarketEvent {
    const condition = typeof quote['c'] === 'string' ? quote['c'].trim() : '';
    const value: Record<string, unknown> = {
      ...this.optionTerms(symbol),
      bidPrice: quote['bp'],
      bidSize: quote['bs'],
      askPrice: quote['ap'],
      askSize: quote['as'],
      bidExchange: quote['bx'],
      askExchange: quote['ax'],
      ts: nanosOfWireTime(quote['t']),
    };
    if (condition !== '') value['conditions'] = [condition];
    return { topic: 'options.quotes', value } as unknown as MarketEvent;
  }

  private optionTradeEvent(symbol: string, trade: Readonly<Record<string, unknown>>): MarketEvent {
    const condition = typeof trade['c'] === 'string' ? trade['c'].trim() : '';
    const value = {
      ...this.optionTerms(symbol),
      price: trade['p'],
      size: trade['s'],
      exchange: trade['x'],
      conditions: condition === '' ? [] : [condition],
      ts: nanosOfWireTime(trade['t']),
    };
    return { topic: 'options.trades', value } as unknown as MarketEvent;
  }

  /** Delivers events to the listeners in order, one batch after the other; the promise settles when this batch is handled. */
  private enqueue(events: MarketEvent[]): Promise<void> {
    if (events.length === 0) return this.emitting;
    this.emitting = this.emitting.then(async () => {
      if (this.state === 'stopped') return;
      for (const listener of this.listeners) {
        try {
          await listener(events);
        } catch (error) {
          this.config.onListenerError?.(error);
        }
      }
    });
    return this.emitting;
  }

  private onFatal(error: AlpacaFatalError): void {
    this.state = 'failed';
    this.error = error.message;
  }

  private every(intervalMs: number, task: () => Promise<void>): void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      void task().finally(() => {
        running = false;
      });
    }, intervalMs);
    timer.unref();
    this.timers.push(timer);
  }
}

function stockQuoteEvent(symbol: string, quote: Readonly<Record<string, unknown>> | AlpacaStockQuote): MarketEvent {
  const fields = quote as Readonly<Record<string, unknown>>;
  const value: Record<string, unknown> = {
    symbol,
    bidPrice: fields['bp'],
    bidSize: fields['bs'],
    askPrice: fields['ap'],
    askSize: fields['as'],
    bidExchange: fields['bx'],
    askExchange: fields['ax'],
    ts: nanosOfWireTime(fields['t']),
  };
  const conditions = conditionsOf(fields['c']);
  if (conditions.length > 0) value['conditions'] = conditions;
  if (fields['z'] === 'A' || fields['z'] === 'B' || fields['z'] === 'C') value['tape'] = fields['z'];
  return { topic: 'market.quotes', value } as unknown as MarketEvent;
}

function stockTradeEvent(trade: StreamDataMessage): MarketEvent {
  const value: Record<string, unknown> = {
    symbol: trade.S,
    price: trade['p'],
    size: trade['s'],
    exchange: trade['x'],
    tradeId: trade['i'] === undefined || trade['i'] === null ? undefined : String(trade['i']),
    conditions: conditionsOf(trade['c']),
    ts: nanosOfWireTime(trade['t']),
  };
  if (trade['z'] === 'A' || trade['z'] === 'B' || trade['z'] === 'C') value['tape'] = trade['z'];
  return { topic: 'market.trades', value } as unknown as MarketEvent;
}

/** Condition codes as a list without blanks (the stock feed sends a list, the option feed one code). */
function conditionsOf(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  return list.filter((code): code is string => typeof code === 'string').map((code) => code.trim()).filter((code) => code !== '');
}

function sortByTime(events: MarketEvent[]): MarketEvent[] {
  const key = (event: MarketEvent): string => (event.value as { ts?: string }).ts ?? '';
  return events.sort((a, b) => key(a).length - key(b).length || (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
