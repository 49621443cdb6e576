import { nanosFromMillis, parseOccSymbol } from '@tributary/contracts';
import { ChainSelector, type ChainSelectionConfig } from './chain-selector';
import { INDEX_ETF_PRODUCT, RuleBasedListing, SINGLE_STOCK_PRODUCT } from './contract-listing';

const listing = new RuleBasedListing(
  new Map([
    ['SPY', INDEX_ETF_PRODUCT],
    ['QQQ', INDEX_ETF_PRODUCT],
    ['AAPL', SINGLE_STOCK_PRODUCT],
  ]),
);

/** Monday 2025-03-03 10:00 New York (EST, UTC-5). */
const MONDAY_10AM = Date.UTC(2025, 2, 3, 15, 0);
const at = (ms: number) => nanosFromMillis(ms);

/** The parsed OCC symbol of a contract the selector named; a symbol it cannot parse fails the test. */
function occ(symbol: string): NonNullable<ReturnType<typeof parseOccSymbol>> {
  const parsed = parseOccSymbol(symbol);
  if (!parsed) throw new Error(`not an OCC option symbol: ${symbol}`);
  return parsed;
}

function selector(config: Partial<ChainSelectionConfig> = {}, underlyings = ['SPY']): ChainSelector {
  const chains = new ChainSelector(listing, { strikesPerExpiration: 4, maxDaysToExpiry: 7, maxContracts: 1_000, ...config });
  for (const underlying of underlyings) chains.addUnderlying(underlying);
  return chains;
}

describe('ChainSelector', () => {
  it('selects N strikes around the price, calls and puts, for each expiry up to the horizon', () => {
    const chains = selector();
    const change = chains.onUnderlyingPrice('SPY', 575.3, at(MONDAY_10AM));
    expect(change.unsubscribe).toEqual([]);
    const expirations = [...new Set(change.subscribe.map((contract) => contract.expiration))];
    // SPY dailies: Mon 3rd to Mon 10th.
    expect(expirations).toEqual(['2025-03-03', '2025-03-04', '2025-03-05', '2025-03-06', '2025-03-07', '2025-03-10']);
    const strikes = [...new Set(change.subscribe.map((contract) => contract.strike))].sort((a, b) => a - b);
    expect(strikes).toEqual([574, 575, 576, 577]);
    expect(change.subscribe).toHaveLength(6 * 4 * 2);
    expect(parseOccSymbol(change.subscribe[0].symbol)).toMatchObject({ root: 'SPY', expiration: '2025-03-03' });
  });

  it('uses wider strikes for single stocks at higher price levels', () => {
    const chains = selector({ strikesPerExpiration: 3 }, ['AAPL']);
    const change = chains.onUnderlyingPrice('AAPL', 226, at(MONDAY_10AM));
    expect([...new Set(change.subscribe.map((contract) => contract.strike))].sort((a, b) => a - b)).toEqual([220, 225, 230]);
    // AAPL lists weeklies (Fridays) but no dailies.
    expect([...new Set(change.subscribe.map((contract) => contract.expiration))]).toEqual(['2025-03-07']);
  });

  it('re-centres when the underlying moves, returning only the difference', () => {
    const chains = selector();
    chains.onUnderlyingPrice('SPY', 575.3, at(MONDAY_10AM));
    const before = new Set(chains.selected('SPY').map((contract) => contract.symbol));
    expect(chains.onUnderlyingPrice('SPY', 575.6, at(MONDAY_10AM + 1_000))).toEqual({ subscribe: [], unsubscribe: [] });
    const change = chains.onUnderlyingPrice('SPY', 577.2, at(MONDAY_10AM + 2_000));
    // Nearest four to 577.2 are 576-579: 578 and 579 come in, 574 and 575 go, in every expiry and right.
    expect(new Set(change.subscribe.map((contract) => contract.strike))).toEqual(new Set([578, 579]));
    expect(new Set(change.unsubscribe.map((symbol) => occ(symbol).strike))).toEqual(new Set([574, 575]));
    expect(change.subscribe).toHaveLength(24);
    expect(change.unsubscribe).toHaveLength(24);
    for (const symbol of change.unsubscribe) expect(before.has(symbol)).toBe(true);
  });

  it('does not churn contracts while the price oscillates around a midpoint between strikes', () => {
    const chains = selector();
    chains.onUnderlyingPrice('SPY', 575.5, at(MONDAY_10AM));
    let changes = 0;
    for (let i = 1; i <= 100; i++) {
      const change = chains.onUnderlyingPrice('SPY', i % 2 ? 575.45 : 575.55, at(MONDAY_10AM + i));
      changes += change.subscribe.length + change.unsubscribe.length;
    }
    expect(changes).toBe(0);
  });

  it("drops the day's expiration at the 16:00 close and lists the new ones at the roll, without a restart", () => {
    const chains = selector({ maxDaysToExpiry: 2 });
    chains.onUnderlyingPrice('SPY', 575.3, at(MONDAY_10AM));
    expect(new Set(chains.selected('SPY').map((contract) => contract.expiration))).toEqual(
      new Set(['2025-03-03', '2025-03-04', '2025-03-05']),
    );
    const close = chains.onTime(at(Date.UTC(2025, 2, 3, 21, 0, 0, 1)));
    expect(new Set(close.unsubscribe.map((symbol) => occ(symbol).expiration))).toEqual(new Set(['2025-03-03']));
    expect(close.subscribe).toEqual([]);
    // Next New York day: the horizon moves one day further.
    const roll = chains.onUnderlyingPrice('SPY', 575.3, at(Date.UTC(2025, 2, 4, 14, 30)));
    expect(new Set(roll.subscribe.map((contract) => contract.expiration))).toEqual(new Set(['2025-03-06']));
    expect(roll.unsubscribe).toEqual([]);
  });

  it('caps subscriptions at the plan limit, shared fairly, nearest expiry and strikes first', () => {
    const chains = selector({ maxContracts: 30, strikesPerExpiration: 10 }, ['SPY', 'QQQ', 'AAPL']);
    chains.onUnderlyingPrice('SPY', 575.3, at(MONDAY_10AM));
    chains.onUnderlyingPrice('QQQ', 490.2, at(MONDAY_10AM));
    chains.onUnderlyingPrice('AAPL', 226, at(MONDAY_10AM));
    expect(chains.size).toBe(30);
    expect(chains.selected('SPY')).toHaveLength(10);
    expect(chains.selected('QQQ')).toHaveLength(10);
    expect(chains.selected('AAPL')).toHaveLength(10);
    // Nearest expiry only, and its five nearest strikes (calls and puts).
    const spy = chains.selected('SPY');
    expect(new Set(spy.map((contract) => contract.expiration))).toEqual(new Set(['2025-03-03']));
    expect([...new Set(spy.map((contract) => contract.strike))]).toEqual([573, 574, 575, 576, 577]);
  });

  it('gives an underlying that needs little room the rest of the limit to the others', () => {
    const chains = selector({ maxContracts: 100, strikesPerExpiration: 2, maxDaysToExpiry: 4 }, ['SPY', 'AAPL']);
    chains.onUnderlyingPrice('AAPL', 226, at(MONDAY_10AM)); // one weekly: 4 contracts
    chains.onUnderlyingPrice('SPY', 575.3, at(MONDAY_10AM)); // five dailies: 20 contracts
    expect(chains.selected('AAPL')).toHaveLength(4);
    expect(chains.selected('SPY')).toHaveLength(20);
    const removed = chains.removeUnderlying('AAPL');
    expect(removed.unsubscribe).toHaveLength(4);
    expect(chains.size).toBe(20);
  });

  it('keeps its state bounded while over a hundred thousand contracts churn through selection', () => {
    const maxContracts = 800;
    const chains = selector({ maxContracts, strikesPerExpiration: 12, maxDaysToExpiry: 30 }, ['SPY', 'QQQ', 'AAPL']);
    const live = new Set<string>();
    let subscribed = 0;
    let unknownUnsubscribes = 0;
    let largest = 0;
    let ms = MONDAY_10AM;
    let step = 0;
    // A random walk over more than ten days of event time: daily and weekly rolls, constant re-centring,
    // and over a hundred times the limit subscribed in all.
    let seed = 12345;
    const uniform = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const prices: Record<string, number> = { SPY: 575, QQQ: 490, AAPL: 226 };
    while (subscribed < 100_000) {
      step++;
      ms += 60_000 * 37; // 37 minutes of event time per step
      for (const underlying of Object.keys(prices)) {
        prices[underlying] = Math.max(20, prices[underlying] * (1 + (uniform() - 0.5) * 0.03));
        const change = chains.onUnderlyingPrice(underlying, prices[underlying], at(ms));
        for (const symbol of change.unsubscribe) if (!live.delete(symbol)) unknownUnsubscribes++;
        for (const contract of change.subscribe) live.add(contract.symbol);
        subscribed += change.subscribe.length;
      }
      largest = Math.max(largest, chains.size);
    }
    expect(unknownUnsubscribes).toBe(0);
    expect(largest).toBeLessThanOrEqual(maxContracts);
    expect(live.size).toBe(chains.size);
    expect(chains.size).toBeLessThanOrEqual(maxContracts);
    expect(step).toBeGreaterThan(400);
  });
});
