import { compareNanos, millisOfNanos, parseOccSymbol, validateEvent } from '@tributary/contracts';
import { ChainSelector } from '../chain/chain-selector';
import type { FaultKind, MarketEvent } from './market-source';
import { DEFAULT_SIMULATION_START_MS, MarketSimulator } from './market-simulator';
import { SeededRandom } from './seeded-random';

const UNDERLYINGS = ['SPY', 'QQQ', 'AAPL', 'TSLA', 'NVDA'];

/** A simulator following the default underlyings with the chains a collector would select. */
async function followedMarket(seed: number | string, options: Partial<ConstructorParameters<typeof MarketSimulator>[0]> = {}) {
  const simulator = new MarketSimulator({ seed, ...options });
  const selector = new ChainSelector(simulator.listing, {
    strikesPerExpiration: 8,
    maxDaysToExpiry: 30,
    maxContracts: 600,
  });
  await simulator.subscribe(UNDERLYINGS);
  for (const underlying of UNDERLYINGS) {
    selector.addUnderlying(underlying);
    const price = simulator.underlyingPrice(underlying);
    if (price === undefined) throw new Error(`the simulator quotes no price for ${underlying}`);
    const change = selector.onUnderlyingPrice(underlying, price, simulator.nowNanos());
    await simulator.subscribe(change.subscribe.map((contract) => contract.symbol));
  }
  return simulator;
}

/** Lets the event loop turn: a simulator loop still running (it yields between batches) would deliver meanwhile. */
async function eventLoopTurns(turns: number): Promise<void> {
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve));
}

const eventMs = (event: MarketEvent) => millisOfNanos(event.value.ts);

describe('MarketSimulator', () => {
  it('replays the identical stream from the same seed', async () => {
    const first = (await followedMarket(7)).generate(20_000);
    const second = (await followedMarket(7)).generate(20_000);
    expect(second).toEqual(first);
    const other = (await followedMarket(8)).generate(200);
    expect(other).not.toEqual(first.slice(0, 200));
  });

  it('emits every kind of market event, each valid against its contract and in event-time order', async () => {
    const events = (await followedMarket('contracts')).generate(50_000);
    const topics = new Set(events.map((event) => event.topic));
    expect([...topics].sort()).toEqual(['market.quotes', 'market.trades', 'options.quotes', 'options.trades']);
    const invalid = events
      .map((event) => ({ event, result: validateEvent(event.topic, event.value) }))
      .filter(({ result }) => !result.ok);
    expect(invalid).toEqual([]);
    const firstOutOfOrder = events.findIndex((event, index) => index > 0 && compareNanos(events[index - 1].value.ts, event.value.ts) > 0);
    expect(firstOutOfOrder).toBe(-1);
  });

  it('quotes option prices consistent with the underlying: calls fall and puts rise with the strike', async () => {
    const simulator = await followedMarket('monotone', { eventsPerSecond: 100_000 });
    const latest = new Map<string, { mid: number; strike: number; right: string; expiration: string }>();
    for (const event of simulator.generate(60_000)) {
      if (event.topic !== 'options.quotes' || event.value.underlying !== 'SPY' || event.value.bidPrice === 0) continue;
      const quote = event.value;
      latest.set(quote.symbol, { mid: (quote.bidPrice + quote.askPrice) / 2, strike: quote.strike, right: quote.right, expiration: quote.expiration });
    }
    const byExpiry = [...latest.values()].filter((quote) => quote.expiration === [...latest.values()][0].expiration);
    const calls = byExpiry.filter((quote) => quote.right === 'call').sort((a, b) => a.strike - b.strike);
    const puts = byExpiry.filter((quote) => quote.right === 'put').sort((a, b) => a.strike - b.strike);
    expect(calls.length).toBeGreaterThan(3);
    // Quotes taken at slightly different times may tie within a tick, never invert by more.
    for (let i = 1; i < calls.length; i++) expect(calls[i].mid).toBeLessThanOrEqual(calls[i - 1].mid + 0.1);
    for (let i = 1; i < puts.length; i++) expect(puts[i].mid).toBeGreaterThanOrEqual(puts[i - 1].mid - 0.1);
  });

  it('prints multi-exchange sweeps and blocks among the option trades, with OPRA condition codes', async () => {
    const simulator = await followedMarket('tape', { sweepProbability: 0.1, blockProbability: 0.05 });
    const trades = simulator.generate(40_000).flatMap((event) => (event.topic === 'options.trades' ? [event.value] : []));
    const sweepPrints = trades.filter((trade) => trade.conditions.includes('S'));
    const blocks = trades.filter((trade) => trade.size >= 500 && !trade.conditions.includes('S'));
    expect(sweepPrints.length).toBeGreaterThan(10);
    expect(blocks.length).toBeGreaterThan(3);
    // Consecutive sweep prints of one contract hit different exchanges.
    const first = sweepPrints[0];
    const sameOrder = sweepPrints.filter((trade) => trade.symbol === first.symbol).slice(0, 3);
    expect(new Set(sameOrder.map((trade) => trade.exchange)).size).toBe(sameOrder.length);
  });

  it('gives open interest per subscribed contract, stable across resubscription', async () => {
    const simulator = await followedMarket('oi');
    const [symbol] = [...simulator.subscriptions()].filter((s) => parseOccSymbol(s));
    const openInterest = simulator.openInterest(symbol);
    expect(openInterest).toBeGreaterThanOrEqual(0);
    await simulator.unsubscribe([symbol]);
    expect(simulator.openInterest(symbol)).toBeUndefined();
    await simulator.subscribe([symbol]);
    expect(simulator.openInterest(symbol)).toBe(openInterest);
  });

  it('emits only for subscribed symbols and nothing when nothing is subscribed', async () => {
    const simulator = new MarketSimulator({ seed: 1 });
    expect(simulator.generate(10)).toEqual([]);
    await simulator.subscribe(['AAPL']);
    const events = simulator.generate(500);
    expect(events.every((event) => event.value.symbol === 'AAPL')).toBe(true);
    await expect(simulator.subscribe(['NOPE'])).rejects.toThrow(/lists no NOPE/);
  });

  it('runs only in regular sessions: event time jumps from the close to the next open', async () => {
    // Friday 2025-03-07 15:59 New York.
    const simulator = new MarketSimulator({ seed: 2, startMs: Date.UTC(2025, 2, 7, 20, 59), eventsPerSecond: 50 });
    await simulator.subscribe(['SPY']);
    const times = simulator.generate(6_000).map((event) => Number(event.value.ts.slice(0, -6)));
    const monday = times.filter((ms) => ms >= Date.UTC(2025, 2, 10, 13, 30));
    expect(monday.length).toBeGreaterThan(0);
    // Nothing printed over the weekend (daylight saving time started on Sunday: open is 13:30 UTC).
    expect(times.filter((ms) => ms > Date.UTC(2025, 2, 7, 21, 0) && ms < Date.UTC(2025, 2, 10, 13, 30))).toEqual([]);
  });

  it('resumes after a given event time, in the next session when that time is outside one, never going back', async () => {
    // Published up to Friday 2025-03-07 15:59:59.5 New York: a restart goes on from there.
    const simulator = new MarketSimulator({ seed: 3, eventsPerSecond: 50 });
    simulator.resumeAfter(Date.UTC(2025, 2, 7, 20, 59, 59, 500));
    await simulator.subscribe(['SPY']);
    const first = simulator.generate(50).map((event) => Number(event.value.ts.slice(0, -6)));
    expect(Math.min(...first)).toBeGreaterThan(Date.UTC(2025, 2, 7, 20, 59, 59, 500));

    // After the close (Friday 18:00 New York) the clock moves to Monday's open; an earlier time changes nothing.
    const later = new MarketSimulator({ seed: 3, eventsPerSecond: 50 });
    later.resumeAfter(Date.UTC(2025, 2, 7, 23, 0));
    later.resumeAfter(Date.UTC(2025, 2, 3, 15, 0));
    await later.subscribe(['SPY']);
    const monday = later.generate(50).map((event) => Number(event.value.ts.slice(0, -6)));
    expect(Math.min(...monday)).toBeGreaterThanOrEqual(Date.UTC(2025, 2, 10, 13, 30));
  });

  it('does not resume into the future: after a close whose next open is still to come it goes on after hours', async () => {
    const simulator = new MarketSimulator({ seed: 4, eventsPerSecond: 50 });
    // Published up to Friday's close; "now" is Saturday: Monday's open is still to come.
    expect(simulator.resumeAfter(Date.UTC(2025, 2, 8, 12, 0, 1), Date.UTC(2025, 2, 8, 12, 0))).toBe(false);
    expect(simulator.resumeAfter(Date.UTC(2025, 2, 7, 21, 0), Date.UTC(2025, 2, 8, 12, 0))).toBe(true);
    await simulator.subscribe(['SPY']);
    const times = simulator.generate(20).map((event) => Number(event.value.ts.slice(0, -6)));
    expect(Math.min(...times)).toBeGreaterThan(Date.UTC(2025, 2, 7, 21, 0));
    expect(Math.max(...times)).toBeLessThan(Date.UTC(2025, 2, 8, 12, 0));
  });

  it('changes volatility regime and jumps, yet stays deterministic', async () => {
    const simulator = new MarketSimulator({ seed: 'regimes', eventsPerSecond: 0.005, sessions: 'continuous' });
    await simulator.subscribe(['TSLA']);
    const regimes = new Set<string>();
    // About 90 days of event time: regimes last days to weeks.
    for (let i = 0; i < 200; i++) {
      simulator.generate(200);
      const regime = simulator.regimeOf('TSLA');
      if (regime === undefined) throw new Error('TSLA is subscribed but has no regime');
      regimes.add(regime);
    }
    expect(regimes.size).toBeGreaterThan(1);
    expect(simulator.underlyingPrice('TSLA')).toBeGreaterThan(0);
  });

  describe('fault mode', () => {
    const kinds: FaultKind[] = ['negative-price', 'crossed-quote', 'future-timestamp', 'missing-field', 'unknown-symbol'];

    it('corrupts about the configured fraction; every corrupted record fails validation and every other passes', async () => {
      const simulator = await followedMarket('faults', { faults: { fraction: 0.1 } });
      const events = simulator.generate(30_000);
      const faulty = events.filter((event) => event.fault);
      expect(faulty.length / events.length).toBeGreaterThan(0.08);
      expect(faulty.length / events.length).toBeLessThan(0.12);
      const wronglyAccepted = faulty.filter((event) => validateEvent(event.topic, event.value).ok);
      const wronglyRefused = events.filter((event) => !event.fault && !validateEvent(event.topic, event.value).ok);
      expect(wronglyAccepted).toEqual([]);
      expect(wronglyRefused).toEqual([]);
      expect(new Set(faulty.map((event) => event.fault))).toEqual(new Set(kinds));
    });

    it.each(kinds)('a %s record fails validation on every topic it applies to', async (kind) => {
      const simulator = await followedMarket(`fault-${kind}`, { faults: { fraction: 1, kinds: [kind] } });
      const events: MarketEvent[] = simulator.generate(4_000);
      for (const event of events) expect(validateEvent(event.topic, event.value).ok).toBe(false);
      expect(new Set(events.map((event) => event.topic)).size).toBe(4);
    });

    it('leaves the good records unchanged when faults are turned on', async () => {
      const clean = (await followedMarket('same')).generate(5_000);
      const withFaults = (await followedMarket('same', { faults: { fraction: 0.2 } })).generate(5_000);
      withFaults.forEach((event, index) => {
        if (!event.fault) expect(event).toEqual(clean[index]);
      });
    });
  });

  it('delivers batches to listeners in the as-fast-as-possible pace until stopped', async () => {
    const simulator = await followedMarket('loop', { pace: 'as-fast-as-possible', batchSize: 500 });
    const received: number[] = [];
    let release: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => (release = resolve));
    simulator.onEvents(async (batch) => {
      received.push(batch.length);
      if (received.length === 5) release();
    });
    await simulator.start();
    await enough;
    await simulator.stop();
    const after = received.length;
    await eventLoopTurns(3);
    expect(received.length).toBe(after);
    expect(received.slice(0, 5)).toEqual([500, 500, 500, 500, 500]);
  });

  describe('stepped pace', () => {
    it('delivers nothing on its own, then on advanceTo the generated stream up to the given event time, batch by batch', async () => {
      const simulator = await followedMarket('stepped', { pace: 'stepped', eventsPerSecond: 1_000, batchSize: 400 });
      const batches: MarketEvent[][] = [];
      simulator.onEvents((batch) => {
        batches.push([...batch]);
      });
      await simulator.start();
      await eventLoopTurns(3);
      expect(batches).toEqual([]);

      const target = DEFAULT_SIMULATION_START_MS + 5_000;
      const delivered = await simulator.advanceTo(target);
      const events = batches.flat();
      expect(delivered).toBe(events.length);
      expect(batches.slice(0, -1).map((batch) => batch.length)).toEqual(Array(batches.length - 1).fill(400));
      expect(millisOfNanos(simulator.nowNanos())).toBeGreaterThanOrEqual(target);
      // Only the arrival that reached the target is at or past it: one print, or a quote and a sweep's legs.
      expect(events.filter((event) => eventMs(event) >= target).length).toBeLessThanOrEqual(7);
      expect(events).toEqual((await followedMarket('stepped', { eventsPerSecond: 1_000 })).generate(events.length));

      // The next advance carries on where this one ended.
      await simulator.advanceTo(target + 1_000);
      expect(eventMs(batches[batches.length - 1][0])).toBeGreaterThanOrEqual(eventMs(events[events.length - 1]));
      await simulator.stop();
    });

    it('applies the subscriptions a listener changes from the next batch on, as the running loop does', async () => {
      const simulator = new MarketSimulator({ seed: 'resubscribe', pace: 'stepped', batchSize: 100 });
      await simulator.subscribe(['SPY', 'QQQ']);
      const batches: MarketEvent[][] = [];
      simulator.onEvents(async (batch) => {
        batches.push([...batch]);
        if (batches.length === 1) await simulator.unsubscribe(['QQQ']);
      });
      await simulator.advanceTo(DEFAULT_SIMULATION_START_MS + 2_000);
      expect(batches.length).toBeGreaterThan(2);
      expect(batches[0].some((event) => event.value.symbol === 'QQQ')).toBe(true);
      expect(batches.slice(1).flat().filter((event) => event.value.symbol === 'QQQ')).toEqual([]);
    });

    it('ends an advance after the batch in progress when stopped, and refuses to step a simulator running its own loop', async () => {
      const stepped = await followedMarket('stop-midway', { pace: 'stepped', batchSize: 100 });
      let stopped: Promise<void> | undefined;
      stepped.onEvents(() => {
        stopped ??= stepped.stop();
      });
      expect(await stepped.advanceTo(DEFAULT_SIMULATION_START_MS + 60_000)).toBe(100);
      await stopped;
      expect(await stepped.advanceTo(DEFAULT_SIMULATION_START_MS + 60_000)).toBe(0);

      const looping = await followedMarket('own-loop', { pace: 'as-fast-as-possible', batchSize: 100 });
      await looping.start();
      await expect(looping.advanceTo(DEFAULT_SIMULATION_START_MS + 1_000)).rejects.toThrow("advanceTo needs pace 'stepped'");
      await looping.stop();
    });
  });
});

describe('SeededRandom', () => {
  it('draws standard normals with mean 0 and variance 1', () => {
    const random = new SeededRandom(11);
    let sum = 0;
    let squares = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const x = random.normal();
      sum += x;
      squares += x * x;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(Math.abs(squares / n - 1)).toBeLessThan(0.02);
  });

  it('repeats its sequence for the same seed', () => {
    const a = new SeededRandom('x');
    const b = new SeededRandom('x');
    expect(Array.from({ length: 10 }, () => a.nextUint32())).toEqual(Array.from({ length: 10 }, () => b.nextUint32()));
  });
});
