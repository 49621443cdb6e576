import { sampleEvent, type OptionQuote, type UnderlyingQuote } from '@tributary/contracts';
import { QuoteEnricher } from './quote-enricher';

const MS = 1_000_000n;
const T0 = 1_742_567_400_000_000_000n;
const at = (ms: number) => String(T0 + BigInt(ms) * MS);

function underlying(ms: number, bid: number, ask: number, symbol = 'AAPL'): UnderlyingQuote.Value {
  return sampleEvent('market.quotes', { symbol, bidPrice: bid, askPrice: ask, ts: at(ms) });
}

function option(ms: number, overrides: Partial<OptionQuote.Value> = {}): OptionQuote.Value {
  return sampleEvent('options.quotes', { ts: at(ms), ...overrides });
}

const options = { outOfOrdernessNs: 50n * MS, maxUnderlyingAgeNs: 60_000n * MS };

describe('option quotes joined in event time with the underlying price', () => {
  it('uses the underlying mid in force at the quote time, not the latest one that arrived', () => {
    const enricher = new QuoteEnricher(options);
    enricher.addUnderlying({ partition: 3, offset: '10' }, underlying(0, 214.0, 214.2));
    enricher.addOption({ partition: 3, offset: '5' }, option(100), 0);
    enricher.addUnderlying({ partition: 3, offset: '11' }, underlying(120, 215.0, 215.2));
    // Watermark 120 - 50 = 70 < 100: the price at 100 is not final yet.
    expect(enricher.release(0, 10_000)).toEqual([]);
    enricher.addUnderlying({ partition: 3, offset: '12' }, underlying(200, 216.0, 216.2));
    const [{ enriched }] = enricher.release(0, 10_000);
    expect(enriched).toMatchObject({ underlyingPrice: 214.1, underlyingTs: at(0) });
  });

  it('gives the same enriched quotes whatever the arrival order within the out-of-orderness bound', () => {
    const events = [
      { kind: 'u', ms: 0, bid: 214.0 },
      { kind: 'u', ms: 30, bid: 214.5 },
      { kind: 'o', ms: 40 },
      { kind: 'u', ms: 45, bid: 214.8 },
      { kind: 'o', ms: 60 },
      { kind: 'u', ms: 80, bid: 215.0 },
      { kind: 'u', ms: 200, bid: 215.5 },
    ] as const;
    const run = (order: readonly (typeof events)[number][]) => {
      const enricher = new QuoteEnricher(options);
      order.forEach((event, i) => {
        if (event.kind === 'u') enricher.addUnderlying({ partition: 0, offset: String(i) }, underlying(event.ms, event.bid, event.bid + 0.2));
        else enricher.addOption({ partition: 0, offset: String(i) }, option(event.ms), 0);
      });
      return enricher
        .release(0, 10_000)
        .map(({ enriched }) => [enriched.ts, enriched.underlyingPrice])
        .sort();
    };
    const inOrder = run(events);
    expect(inOrder).toEqual([
      [at(40), 214.6],
      [at(60), 214.9],
    ]);
    // The underlying quote at 45 ms arrives after the option quote at 60 ms, within the 50 ms bound.
    expect(run([events[0], events[1], events[2], events[4], events[3], events[5], events[6]])).toEqual(inOrder);
    expect(run([events[2], events[4], events[0], events[1], events[3], events[5], events[6]])).toEqual(inOrder);
  });

  it('derives mid, spread, moneyness, intrinsic value and time to expiry', () => {
    const enricher = new QuoteEnricher(options);
    enricher.addUnderlying({ partition: 0, offset: '0' }, underlying(0, 220.0, 220.2));
    enricher.addOption({ partition: 0, offset: '0' }, option(10, { bidPrice: 6.1, askPrice: 6.3 }), 0);
    enricher.addUnderlying({ partition: 0, offset: '1' }, underlying(100, 220.0, 220.2));
    const [{ enriched }] = enricher.release(0, 10_000);
    expect(enriched.mid).toBeCloseTo(6.2, 12);
    expect(enriched.spread).toBeCloseTo(0.2, 12);
    expect(enriched.spreadPct).toBeCloseTo((0.2 / 6.2) * 100, 10);
    expect(enriched.moneyness).toBeCloseTo(220.1 / 215, 12);
    expect(enriched.logMoneyness).toBeCloseTo(Math.log(220.1 / 215), 12);
    expect(enriched.intrinsic).toBeCloseTo(5.1, 10);
    // 2025-03-21 14:30:00.010 UTC to 2025-04-17 16:00 New York (20:00 UTC), ACT/365.
    expect(enriched.yearsToExpiry).toBeCloseTo((Date.UTC(2025, 3, 17, 20) - (Date.UTC(2025, 2, 21, 14, 30) + 10)) / (365 * 86_400_000), 12);
  });

  it('leaves the underlying fields null when no price is known or the price is too old, and mid null for a one-sided quote', () => {
    const enricher = new QuoteEnricher(options);
    enricher.addUnderlying({ partition: 0, offset: '0' }, underlying(0, 214.0, 214.2));
    enricher.addOption({ partition: 0, offset: '0' }, option(61_000, { bidPrice: 0, bidSize: 0 }), 0);
    enricher.addUnderlying({ partition: 0, offset: '1' }, underlying(70_000, 214.0, 214.2, 'MSFT'));
    const [{ enriched }] = enricher.release(0, 10_000);
    expect(enriched).toMatchObject({ underlyingPrice: null, underlyingTs: null, moneyness: null, intrinsic: null, mid: null, spread: null });
  });

  it('releases a waiting quote after the maximum wait when its underlying partition is silent, keeping arrival order', () => {
    const enricher = new QuoteEnricher(options);
    enricher.addUnderlying({ partition: 1, offset: '0' }, underlying(0, 214.0, 214.2));
    enricher.addOption({ partition: 1, offset: '7' }, option(500), 1_000);
    enricher.addOption({ partition: 1, offset: '8' }, option(400), 1_500);
    expect(enricher.release(1_999, 1_000)).toEqual([]);
    const released = enricher.release(2_000, 1_000);
    expect(released.map(({ enriched }) => enriched.ts)).toEqual([at(500)]);
    expect(enricher.release(2_600, 1_000).map(({ enriched }) => enriched.ts)).toEqual([at(400)]);
  });

  it('commits options behind the oldest waiting quote and underlying behind the oldest price kept, so a restart rebuilds the state', () => {
    const enricher = new QuoteEnricher(options);
    enricher.addUnderlying({ partition: 2, offset: '100' }, underlying(0, 214.0, 214.2));
    enricher.addUnderlying({ partition: 2, offset: '101' }, underlying(10, 214.0, 214.2, 'MSFT'));
    enricher.addOption({ partition: 2, offset: '40' }, option(20), 0);
    enricher.addOption({ partition: 2, offset: '41' }, option(5_000), 0);
    enricher.addUnderlying({ partition: 2, offset: '102' }, underlying(1_000, 214.0, 214.2));
    enricher.release(0, 10_000);
    expect(enricher.commitPositions()).toEqual([{ partition: 2, options: '41', underlying: '100' }]);
  });

  it('keeps the price history bounded by the age limit as time goes on', () => {
    const enricher = new QuoteEnricher(options);
    for (let i = 0; i < 10_000; i += 1) {
      enricher.addUnderlying({ partition: 0, offset: String(i) }, underlying(i * 100, 214.0, 214.2, `S${i % 50}`));
      if (i % 100 === 0) enricher.release(0, 10_000);
    }
    enricher.release(0, 10_000);
    // 60 s of history at one quote per 100 ms, plus the as-of point per symbol.
    expect(enricher.pricePoints()).toBeLessThanOrEqual(600 + 50 + 50);
  });
});
