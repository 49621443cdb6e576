import { Writable } from 'node:stream';
import pino from 'pino';
import { formatFieldErrors, validateEvent } from '@tributary/contracts';
import { eventually } from '@tributary/testing';
import { ChainSelector } from '../../chain/chain-selector';
import type { MarketEvent } from '../../simulator/market-source';
import { AlpacaFatalError } from './alpaca-errors';
import type { AlpacaOptionContract, AlpacaOptionSnapshot } from './alpaca-rest';
import { AlpacaMarketSource, type AlpacaSourceOptions } from './alpaca-source';
import {
  AlpacaPeer,
  type AlpacaPeerOptions,
  contractOf,
  optionQuoteMessage,
  optionTradeMessage,
  stockQuoteMessage,
  stockTradeMessage,
} from './testing/alpaca-peer';

const KEY = 'PKSOURCEKEY00000001';
const SECRET = 'source-secret-5e6f7a8b9c';
const OPTIONS_FEED = 'v1beta1/indicative';
const STOCKS_FEED = 'v2/iex';
/** 2025-03-03 15:00 UTC, a Monday in market hours. */
const NOW_MS = Date.parse('2025-03-03T15:00:00Z');
/** How long a condition on the local peer may take to hold: generous, since a busy machine only delays it. */
const SETTLES_WITHIN_MS = 20_000;

jest.setTimeout(2 * SETTLES_WITHIN_MS);

/** SPY calls and puts 490..510 by 5 on two expirations, listed with space-padded OSI symbols. */
function spyContracts(): AlpacaOptionContract[] {
  const contracts: AlpacaOptionContract[] = [];
  for (const expiry of ['250307', '250321']) {
    for (let strike = 490; strike <= 510; strike += 5) {
      for (const right of ['C', 'P']) {
        contracts.push(contractOf(`SPY   ${expiry}${right}${String(strike * 1000).padStart(8, '0')}`, 'SPY', String(strike * 3)));
      }
    }
  }
  // An adjusted contract after a corporate action (10 shares) and a broken entry: both left out.
  contracts.push({ ...contractOf('SPY1  250321C00500000', 'SPY'), size: '10' });
  contracts.push({ ...contractOf('SPY   250321C00515000', 'SPY'), strike_price: 'n/a' });
  // Out of the 30-day window: the trading API filters it away.
  contracts.push(contractOf('SPY   250620C00500000', 'SPY'));
  return contracts;
}

const VENDOR: Record<string, AlpacaOptionSnapshot> = {
  SPY250321C00500000: {
    latestQuote: { bp: 9.1, bs: 20, bx: 'C', ap: 9.3, as: 25, ax: 'X', c: 'A', t: '2025-03-03T14:59:59.987654321Z' },
    latestTrade: { p: 9.2, s: 1, x: 'C', c: 'I', t: '2025-03-03T14:59:58.5Z' },
    greeks: { delta: 0.52, gamma: 0.031, theta: -0.21, vega: 0.45, rho: 0.11 },
    impliedVolatility: 0.1834,
  },
  SPY250321P00500000: { latestQuote: { bp: 8.0, bs: 5, bx: 'C', ap: 8.2, as: 7, ax: 'C', c: 'A', t: '2025-03-03T14:59:59.5Z' } },
  SPY250307C00500000: { latestQuote: { bp: 7.1, bs: 9, bx: 'X', ap: 7.3, as: 4, ax: 'X', c: 'A', t: '2025-03-03T14:59:59.25Z' } },
};

describe('Alpaca market source against a local Alpaca peer', () => {
  let peer: AlpacaPeer;
  let source: AlpacaMarketSource;
  let events: MarketEvent[];
  let logLines: string[];

  const start = async (overrides: Partial<AlpacaSourceOptions> = {}, peerOptions: Partial<AlpacaPeerOptions> = {}): Promise<void> => {
    peer = await AlpacaPeer.start({
      keyId: KEY,
      secretKey: SECRET,
      contracts: spyContracts(),
      pageSize: 7,
      optionSnapshots: { SPY: VENDOR },
      stockSnapshots: { SPY: { latestQuote: { bp: 500.01, bs: 3, bx: 'V', ap: 500.03, as: 2, ax: 'V', c: ['R'], z: 'B', t: '2025-03-03T14:59:59.999999999Z' } } },
      ...peerOptions,
    });
    logLines = [];
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(chunk.toString());
          done();
        },
      }),
    );
    source = new AlpacaMarketSource({
      credentials: { keyId: KEY, secretKey: SECRET },
      tradingUrl: peer.httpUrl,
      dataUrl: peer.httpUrl,
      streamUrl: peer.wsUrl,
      optionsFeed: 'indicative',
      stocksFeed: 'iex',
      underlyings: ['SPY'],
      maxDaysToExpiry: 30,
      contractsRefreshMs: 0,
      snapshotsRefreshMs: 0,
      retryBaseMs: 10,
      retryMaxMs: 50,
      nowMs: () => NOW_MS,
      random: () => 0.5,
      logger,
      ...overrides,
    });
    events = [];
    source.onEvents((batch) => {
      events.push(...batch);
    });
  };

  afterEach(async () => {
    await source.stop();
    await peer.stop();
  });

  const valid = (event: MarketEvent): boolean => {
    const result = validateEvent(event.topic, event.value, { nowMs: NOW_MS + 60_000 });
    if (!result.ok) throw new Error(`${event.topic}: ${formatFieldErrors(result.errors)}`);
    return true;
  };

  it('lists the standard contracts of each underlying for chain selection, padded symbols in compact form, open interest as numbers', async () => {
    await start();
    await source.start();
    expect(source.listing.expirations('SPY', '2025-03-03')).toEqual(['2025-03-07', '2025-03-21']);
    expect(source.listing.expirations('SPY', '2025-03-10')).toEqual(['2025-03-21']);
    expect(source.listing.strikesAround('SPY', '2025-03-21', 501, 3)).toEqual([495, 500, 505]);
    expect(source.listing.strikesAround('SPY', '2025-03-21', 530, 2)).toEqual([505, 510]);
    expect(source.listing.optionRoot('SPY')).toBe('SPY');
    expect(source.openInterest('SPY250321C00500000')).toBe(1500);
    expect(source.openInterest('SPY1250321C00500000')).toBeUndefined();
    expect(source.connectionStatus()).toMatchObject({ contractsListed: 20, contractsRefused: 2, state: 'streaming' });
    // Every page was read (20 + 2 contracts in the window, 7 per page).
    expect(peer.requests.filter((request) => request.path === '/v2/options/contracts')).toHaveLength(4);
  });

  it('publishes the underlying latest quote at start, then live quotes and trades with their exact nanoseconds, in the simulator shapes', async () => {
    await start();
    await source.subscribe(['SPY', 'SPY   250321C00500000']);
    await source.start();
    await source.whenStreaming();
    await eventually(() => peer.live(OPTIONS_FEED)[0]?.subscriptions.has('SPY250321C00500000'), SETTLES_WITHIN_MS, 'option subscribed');
    await eventually(() => peer.live(STOCKS_FEED)[0]?.subscriptions.has('SPY'), SETTLES_WITHIN_MS, 'stock subscribed');

    peer.publish(STOCKS_FEED, [
      stockQuoteMessage('SPY', '1741014000000000001', { bp: 500.1, ap: 500.12, bs: 4, as: 6 }),
      stockTradeMessage('SPY', '1741014000000000002', { p: 500.11, s: 100, i: 52983525029461 }),
    ]);
    peer.publish(OPTIONS_FEED, [
      optionQuoteMessage('SPY250321C00500000', '1741014000123456789', { bp: 9.2, bs: 11, ap: 9.4, as: 13, bx: 'C', ax: 'X' }),
      optionTradeMessage('SPY250321C00500000', '1741014000123456790', { p: 9.4, s: 7, x: 'X', c: 'S' }),
    ]);
    // Not subscribed (the server's buffer after an unsubscribe): never emitted.
    peer.publish(OPTIONS_FEED, [optionQuoteMessage('SPY250321C00510000', '1741014000123456791', { bp: 2, bs: 1, ap: 2.1, as: 1 })], {
      unfiltered: true,
    });
    await eventually(() => events.length >= 6, SETTLES_WITHIN_MS, 'six events');

    // First the snapshot quotes the source starts from, in time order, then the live events.
    expect(events.map((event) => [event.topic, event.value.ts])).toEqual([
      ['options.quotes', '1741013999987654321'],
      ['market.quotes', '1741013999999999999'],
      ['market.quotes', '1741014000000000001'],
      ['market.trades', '1741014000000000002'],
      ['options.quotes', '1741014000123456789'],
      ['options.trades', '1741014000123456790'],
    ]);
    const live = events.filter((event) => event.value.ts >= '1741014000000000000');
    expect(live).toEqual([
      {
        topic: 'market.quotes',
        value: {
          symbol: 'SPY', bidPrice: 500.1, bidSize: 4, askPrice: 500.12, askSize: 6, bidExchange: 'V', askExchange: 'V',
          ts: '1741014000000000001', conditions: ['R'], tape: 'B',
        },
      },
      {
        topic: 'market.trades',
        value: {
          symbol: 'SPY', price: 500.11, size: 100, exchange: 'V', tradeId: '52983525029461', conditions: ['@'],
          ts: '1741014000000000002', tape: 'B',
        },
      },
      {
        topic: 'options.quotes',
        value: {
          symbol: 'SPY250321C00500000', underlying: 'SPY', expiration: '2025-03-21', strike: 500, right: 'call',
          bidPrice: 9.2, bidSize: 11, askPrice: 9.4, askSize: 13, bidExchange: 'C', askExchange: 'X',
          ts: '1741014000123456789', conditions: ['A'],
        },
      },
      {
        topic: 'options.trades',
        value: {
          symbol: 'SPY250321C00500000', underlying: 'SPY', expiration: '2025-03-21', strike: 500, right: 'call',
          price: 9.4, size: 7, exchange: 'X', conditions: ['S'], ts: '1741014000123456790',
        },
      },
    ]);
    expect(events.every(valid)).toBe(true);
    await eventually(() => source.connectionStatus().eventsForUnsubscribedSymbols === 1, SETTLES_WITHIN_MS, 'stray quote counted');
  });

  it('starts each newly selected contract from its snapshot quote and offers the vendor Greeks and IV', async () => {
    await start();
    await source.subscribe(['SPY']);
    await source.start();
    const seeded = events.filter((event) => event.topic === 'market.quotes');
    expect(seeded.map((event) => event.value)).toEqual([
      expect.objectContaining({ symbol: 'SPY', bidPrice: 500.01, askPrice: 500.03, ts: '1741013999999999999' }),
    ]);
    await source.subscribe(['SPY250321C00500000', 'SPY250321P00500000', 'SPY250321C00505000']);
    await eventually(() => events.filter((event) => event.topic === 'options.quotes').length === 2, SETTLES_WITHIN_MS, 'two seeded quotes');
    const quotes = events.filter((event) => event.topic === 'options.quotes').map((event) => event.value);
    expect(quotes.map((quote) => [quote.symbol, quote.ts])).toEqual([
      ['SPY250321P00500000', '1741013999500000000'],
      ['SPY250321C00500000', '1741013999987654321'],
    ]);
    expect(events.every(valid)).toBe(true);
    expect(source.vendorAnalytics('SPY250321C00500000')).toEqual({
      iv: 0.1834,
      greeks: { delta: 0.52, gamma: 0.031, theta: -0.21, vega: 0.45, rho: 0.11 },
    });
    expect(source.vendorAnalytics('SPY250321P00500000')).toBeUndefined();
    // Subscribing again seeds nothing twice: seeds are delivered in the order of the subscriptions, so a
    // second seed of the contract would come before the one of a contract subscribed after it.
    await source.subscribe(['SPY250321C00500000']);
    await source.subscribe(['SPY250307C00500000']);
    await eventually(() => events.filter((event) => event.topic === 'options.quotes').length >= 3, SETTLES_WITHIN_MS, 'seeded quote of the later subscription');
    expect(events.filter((event) => event.topic === 'options.quotes').map((event) => event.value.symbol)).toEqual([
      'SPY250321P00500000',
      'SPY250321C00500000',
      'SPY250307C00500000',
    ]);
  });

  it('subscribes and unsubscribes on the stream only the difference the chain selection computes', async () => {
    await start();
    await source.start();
    const selector = new ChainSelector(source.listing, { strikesPerExpiration: 2, maxDaysToExpiry: 30, maxContracts: 100 });
    selector.addUnderlying('SPY');
    const apply = async (change: ReturnType<ChainSelector['onUnderlyingPrice']>): Promise<void> => {
      await source.unsubscribe(change.unsubscribe);
      await source.subscribe(change.subscribe.map((contract) => contract.symbol));
    };
    await apply(selector.onUnderlyingPrice('SPY', 501, '1741014000000000000'));
    await source.whenStreaming();
    const first = [...selector.selected('SPY')].map((contract) => contract.symbol).sort();
    expect(first).toHaveLength(8);
    await eventually(() => peer.live(OPTIONS_FEED)[0]?.subscriptions.size === 8, SETTLES_WITHIN_MS, 'first selection held');

    const move = selector.onUnderlyingPrice('SPY', 506, '1741014001000000000');
    expect(move.unsubscribe.length).toBeGreaterThan(0);
    await apply(move);
    const second = [...selector.selected('SPY')].map((contract) => contract.symbol).sort();
    await eventually(
      () => JSON.stringify([...peer.live(OPTIONS_FEED)[0].subscriptions].sort()) === JSON.stringify(second),
      SETTLES_WITHIN_MS,
      'selection after the move held by the server',
    );
    const sorted = (symbols: readonly string[]): string[] => [...symbols].sort();
    const actions = peer
      .live(OPTIONS_FEED)[0]
      .received.filter((message) => message['action'] !== 'auth')
      .map((message) => ({
        action: message['action'],
        trades: sorted(message['trades'] as string[]),
        quotes: sorted(message['quotes'] as string[]),
      }));
    const added = sorted(move.subscribe.map((contract) => contract.symbol));
    expect(actions).toEqual([
      { action: 'subscribe', trades: first, quotes: first },
      { action: 'unsubscribe', trades: sorted(move.unsubscribe), quotes: sorted(move.unsubscribe) },
      { action: 'subscribe', trades: added, quotes: added },
    ]);
    expect(source.subscriptions()).toEqual(new Set(second));
  });

  it('keeps retrying the contract list while Alpaca fails, then starts', async () => {
    await start({ httpMaxAttempts: 2 }, {});
    peer.failNext('/v2/options/contracts', 5, 503);
    await source.start();
    expect(source.listing.size).toBe(20);
    expect(peer.requests.filter((request) => request.path === '/v2/options/contracts' && request.status === 503)).toHaveLength(5);
  });

  it('refuses to start with credentials Alpaca rejects, naming the variables, and never logs the secret', async () => {
    await start({ credentials: { keyId: KEY, secretKey: 'definitely-wrong-secret' } });
    const error = await source.start().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AlpacaFatalError);
    expect((error as Error).message).toMatch(/ALPACA_API_SECRET_KEY/);
    expect(source.connectionStatus()).toMatchObject({ state: 'failed' });
    expect(logLines.join('')).not.toContain('definitely-wrong-secret');
  });

  it('never writes the key or the secret to a log line, through rate limits, drops and reconnects', async () => {
    await start();
    peer.failNext('/v1beta1/options/snapshots/', 1, 429, { retryAfter: '0' });
    await source.subscribe(['SPY', 'SPY250321C00500000']);
    await source.start();
    await source.whenStreaming();
    peer.dropConnections();
    await eventually(() => source.connectionStatus().streams['options'].reconnects === 1, SETTLES_WITHIN_MS, 'options stream back');
    await eventually(() => source.connectionStatus().streams['stocks'].reconnects === 1, SETTLES_WITHIN_MS, 'stocks stream back');
    peer.sendError(OPTIONS_FEED, 500, 'internal error');
    await eventually(() => source.connectionStatus().streams['options'].reconnects === 2, SETTLES_WITHIN_MS, 'options stream back again');
    await source.unsubscribe(['SPY250321C00500000']);
    await source.subscribe(['not a symbol', 'SPY250321C00999000']);
    expect(source.connectionStatus().rateLimitedRequests).toBe(1);
    const text = logLines.join('');
    expect(logLines.length).toBeGreaterThan(5);
    expect(text).toContain('reconnect');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(KEY);
  });
});
