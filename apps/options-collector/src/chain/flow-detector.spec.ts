import { formatOccSymbol, nanosFromMillis, validateEvent, type OptionQuote, type OptionTrade } from '@tributary/contracts';
import { DEFAULT_FLOW_DETECTION, FlowDetector } from './flow-detector';

const T0 = Date.UTC(2025, 2, 3, 15, 0);
const CALL_575 = formatOccSymbol({ root: 'SPY', expiration: '2025-03-07', right: 'call', strike: 575 });
const CALL_580 = formatOccSymbol({ root: 'SPY', expiration: '2025-03-07', right: 'call', strike: 580 });

function quote(symbol: string, bid: number, ask: number, ms: number): OptionQuote.Value {
  const strike = Number(symbol.slice(-8)) / 1000;
  return {
    symbol, underlying: 'SPY', expiration: '2025-03-07', strike, right: 'call', bidPrice: bid, bidSize: 10,
    askPrice: ask, askSize: 10, bidExchange: 'C', askExchange: 'X', ts: nanosFromMillis(ms),
  };
}

function trade(symbol: string, price: number, size: number, exchange: string, ms: number): OptionTrade.Value {
  const strike = Number(symbol.slice(-8)) / 1000;
  return {
    symbol, underlying: 'SPY', expiration: '2025-03-07', strike, right: 'call', price, size, exchange,
    conditions: ['S'], ts: nanosFromMillis(ms),
  };
}

function detector(): FlowDetector {
  const flows = new FlowDetector(DEFAULT_FLOW_DETECTION);
  flows.onUnderlyingPrice('SPY', 575.2);
  flows.onQuote(quote(CALL_575, 4.9, 5, T0 - 10));
  flows.onQuote(quote(CALL_580, 2.4, 2.45, T0 - 10));
  return flows;
}

describe('FlowDetector', () => {
  it('infers the aggressor from the quote before the trade: at/above ask buys, at/below bid sells, between is mid', () => {
    const flows = detector();
    expect(flows.aggressor(trade(CALL_575, 5, 1, 'C', T0))).toBe('buy');
    expect(flows.aggressor(trade(CALL_575, 5.05, 1, 'C', T0))).toBe('buy');
    expect(flows.aggressor(trade(CALL_575, 4.9, 1, 'C', T0))).toBe('sell');
    expect(flows.aggressor(trade(CALL_575, 4.95, 1, 'C', T0))).toBe('mid');
    expect(new FlowDetector().aggressor(trade(CALL_575, 5, 1, 'C', T0))).toBe('unknown');
  });

  it('reports a sweep of one contract across several exchanges within the window, once, with its evidence', () => {
    const flows = detector();
    const out = [
      ...flows.onTrade(trade(CALL_575, 5, 40, 'C', T0)),
      ...flows.onTrade(trade(CALL_575, 5, 30, 'X', T0 + 2)),
      ...flows.onTrade(trade(CALL_575, 5.05, 20, 'I', T0 + 4)),
    ];
    expect(out).toEqual([]);
    const [sweep, ...rest] = flows.advanceTo(nanosFromMillis(T0 + 1_000));
    expect(rest).toEqual([]);
    expect(sweep).toMatchObject({
      kind: 'sweep', side: 'buy', symbol: CALL_575, size: 90, exchanges: ['C', 'X', 'I'],
      premium: 45_100, underlyingPrice: 575.2, ts: nanosFromMillis(T0 + 4),
    });
    expect(sweep.price).toBeCloseTo(45_100 / 9_000, 4);
    expect(sweep.legs).toBeUndefined();
    expect(validateEvent('options.flow', sweep).ok).toBe(true);
    expect(flows.advanceTo(nanosFromMillis(T0 + 5_000))).toEqual([]);
  });

  it('reports a sweep across strikes of the same underlying, expiry and side, with its legs', () => {
    const flows = detector();
    flows.onTrade(trade(CALL_575, 5, 60, 'C', T0));
    flows.onTrade(trade(CALL_580, 2.45, 120, 'X', T0 + 1));
    flows.onTrade(trade(CALL_580, 2.45, 60, 'M', T0 + 3));
    const [sweep] = flows.onTrade(trade(CALL_575, 5, 1, 'C', T0 + 500));
    expect(sweep.kind).toBe('sweep');
    expect(sweep.legs).toEqual([
      { symbol: CALL_575, side: 'buy', ratio: 1 },
      { symbol: CALL_580, side: 'buy', ratio: 3 },
    ]);
    expect(validateEvent('options.flow', sweep).ok).toBe(true);
  });

  it('does not report prints on too few exchanges, outside the window, at mid, or too small as sweeps', () => {
    const twoExchanges = detector();
    twoExchanges.onTrade(trade(CALL_575, 5, 100, 'C', T0));
    twoExchanges.onTrade(trade(CALL_575, 5, 100, 'X', T0 + 1));
    twoExchanges.onTrade(trade(CALL_575, 5, 100, 'X', T0 + 2));
    expect(twoExchanges.advanceTo(nanosFromMillis(T0 + 1_000))).toEqual([]);

    const slow = detector();
    slow.onTrade(trade(CALL_575, 5, 100, 'C', T0));
    slow.onTrade(trade(CALL_575, 5, 100, 'X', T0 + 60));
    slow.onTrade(trade(CALL_575, 5, 100, 'I', T0 + 120));
    expect(slow.advanceTo(nanosFromMillis(T0 + 1_000))).toEqual([]);

    const mid = detector();
    for (const [i, exchange] of ['C', 'X', 'I', 'M'].entries()) mid.onTrade(trade(CALL_575, 4.95, 100, exchange, T0 + i));
    expect(mid.advanceTo(nanosFromMillis(T0 + 1_000))).toEqual([]);

    const small = detector();
    for (const [i, exchange] of ['C', 'X', 'I'].entries()) small.onTrade(trade(CALL_575, 5, 10, exchange, T0 + i));
    expect(small.advanceTo(nanosFromMillis(T0 + 1_000))).toEqual([]); // $15,000 < $25,000
  });

  it('reports a block by size or by premium, and not a print just under both', () => {
    const flows = detector();
    const [bySize] = flows.onTrade(trade(CALL_580, 2.4, 500, 'C', T0));
    expect(bySize).toMatchObject({ kind: 'block', side: 'sell', size: 500, premium: 120_000 });
    const [byPremium] = flows.onTrade(trade(CALL_575, 5, 499, 'C', T0 + 1_000)); // $249,500: under
    expect(byPremium).toBeUndefined();
    const [big] = flows.onTrade(trade(CALL_575, 5.1, 490, 'C', T0 + 2_000)); // $249,900 at 490: under
    expect(big).toBeUndefined();
    const [over] = flows.onTrade(trade(CALL_575, 5.2, 490, 'C', T0 + 3_000)); // $254,800
    expect(over).toMatchObject({ kind: 'block', premium: 254_800 });
    expect(validateEvent('options.flow', over).ok).toBe(true);
  });

  it('reports session volume over open interest once, with the ratio', () => {
    const flows = detector();
    const openInterest = 800;
    let reported = flows.onTrade(trade(CALL_575, 5, 400, 'C', T0), openInterest);
    expect(reported).toEqual([]);
    reported = flows.onTrade(trade(CALL_575, 5, 399, 'C', T0 + 1_000), openInterest);
    expect(reported).toEqual([]); // 799 < 800
    reported = flows.onTrade(trade(CALL_575, 5, 2, 'C', T0 + 2_000), openInterest);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ kind: 'unusual_volume', size: 801, volumeToOpenInterest: 1.0013 });
    expect(validateEvent('options.flow', reported[0]).ok).toBe(true);
    expect(flows.onTrade(trade(CALL_575, 5, 2, 'C', T0 + 3_000), openInterest)).toEqual([]);
    // The next session counts again from zero.
    expect(flows.onTrade(trade(CALL_575, 5, 10, 'C', T0 + 86_400_000), openInterest)).toEqual([]);
    expect(flows.stateSize.sessionVolumes).toBe(1);
  });
});
