import { black76Greeks, bsmGreeks, bsmPrice, black76Price, OptionRight } from './black-scholes';
import {
  black76ImpliedVolatility,
  bsmImpliedVolatility,
  normalisedBlackCall,
  normalisedImpliedVolatility,
} from './implied-volatility';

const RIGHTS: readonly OptionRight[] = ['call', 'put'];
const EXPIRIES = [1 / 365, 2 / 365, 7 / 365, 30 / 365, 0.25, 0.5, 1, 2, 3];
const VOLATILITIES = [0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3];
const RATES = [-0.01, 0.03, 0.08];
const DIVIDEND_YIELDS = [0, 0.02, 0.05];

describe('implied volatility', () => {
  it("recovers vollib's canonical examples to 1e-12", () => {
    const bsm = bsmPrice('call', 100, 100, 0.5, 0.01, 0, 0.2) ?? Number.NaN;
    expect(Math.abs((bsmImpliedVolatility(bsm, 'call', 100, 100, 0.5, 0.01, 0) ?? 0) - 0.2)).toBeLessThan(1e-12);
    const black = black76Price('call', 100, 100, 0.5, 0.02, 0.2) ?? Number.NaN;
    expect(Math.abs(black - 5.5811067246)).toBeLessThan(1e-10);
    expect(Math.abs((black76ImpliedVolatility(black, 'call', 100, 100, 0.5, 0.02) ?? 0) - 0.2)).toBeLessThan(1e-12);
    // Normalised frame: β = undiscounted / √(F·K), x = ln(F/K), s = σ√T.
    expect(Math.abs(normalisedBlackCall(0, 0.2) - 0.0796556745541)).toBeLessThan(1e-12);
    expect(Math.abs((normalisedImpliedVolatility(0.0796556745541, 0, 'call') ?? 0) - 0.2)).toBeLessThan(1e-11);
    const x = Math.log(100 / 95);
    const s = 0.3 * Math.sqrt(0.5);
    expect(Math.abs(normalisedBlackCall(x, s) - 0.11259558142181655)).toBeLessThan(1e-15);
    expect(Math.abs(normalisedBlackCall(-x, s) - 0.061296663817558904)).toBeLessThan(1e-15);
    expect(Math.abs((normalisedImpliedVolatility(0.0509710222785, 0.1, 'put') ?? 0) - 0.23232323888)).toBeLessThan(1e-10);
  });

  // The price pins σ down only as far as its own rounding allows: a relative price error ε
  // moves σ by ε·price/vega. Where that is below 1e-10 ("vega is not negligible") σ must come
  // back within 1e-8; elsewhere (deep in the money with hardly any time value, or a price so
  // small it underflows) the solved σ must reprice the option to 1e-10 relative.
  it('round-trips σ to 1e-8 wherever vega is not negligible, and the price to 1e-10 elsewhere, across strikes 0.5x-2x, 1 day-3 years, 5%-300% vol, rates -1%..8%, yields 0..5%', () => {
    const spot = 100;
    let checkedVolatility = 0;
    let worstVolatilityError = 0;
    for (const right of RIGHTS)
      for (let moneyness = 0.5; moneyness <= 2.0001; moneyness += 0.05)
        for (const years of EXPIRIES)
          for (const vol of VOLATILITIES)
            for (const rate of RATES)
              for (const dividendYield of DIVIDEND_YIELDS) {
                const strike = spot * moneyness;
                const g = bsmGreeks(right, spot, strike, years, rate, dividendYield, vol);
                if (g === null) throw new Error('valid inputs gave no Greeks');
                const solved = bsmImpliedVolatility(g.price, right, spot, strike, years, rate, dividendYield);
                const vegaMatters = g.price > 1e-300 && Number.EPSILON * g.price < 1e-10 * g.vega;
                if (vegaMatters) {
                  checkedVolatility++;
                  const error = solved === null ? Number.POSITIVE_INFINITY : Math.abs(solved - vol);
                  worstVolatilityError = Math.max(worstVolatilityError, error);
                  if (error >= 1e-8) throw new Error(`σ error ${error} for ${right} K=${strike} T=${years} σ=${vol} r=${rate} q=${dividendYield}`);
                } else {
                  expect(solved).not.toBeNull();
                  const repriced = bsmPrice(right, spot, strike, years, rate, dividendYield, solved ?? 0) ?? Number.NaN;
                  // A subnormal price has no relative precision left to honour.
                  expect(Math.abs(repriced - g.price)).toBeLessThanOrEqual(Math.max(1e-10 * g.price, 1e-300));
                }
              }
    expect(checkedVolatility).toBeGreaterThan(25_000); // of 35,154 grid points
    expect(worstVolatilityError).toBeLessThan(1e-8);
  });

  it('round-trips Black-76 volatilities on futures to 1e-8 wherever vega is not negligible', () => {
    for (const right of RIGHTS)
      for (const strike of [60, 90, 100, 110, 150])
        for (const years of [7 / 365, 0.5, 2])
          for (const vol of [0.1, 0.3, 1]) {
            const g = black76Greeks(right, 100, strike, years, 0.04, vol);
            if (g === null) throw new Error('valid inputs gave no Greeks');
            if (!(Number.EPSILON * g.price < 1e-10 * g.vega)) continue;
            const price = g.price;
            expect(Math.abs((black76ImpliedVolatility(price, right, 100, strike, years, 0.04) ?? 0) - vol)).toBeLessThan(1e-8);
          }
  });

  it('returns null for prices outside the no-arbitrage bounds, zero time and non-positive inputs', () => {
    const [s, k, t, r, q] = [100, 90, 0.5, 0.05, 0.02];
    const intrinsicCall = s * Math.exp(-q * t) - k * Math.exp(-r * t);
    expect(bsmImpliedVolatility(intrinsicCall - 0.01, 'call', s, k, t, r, q)).toBeNull();
    expect(bsmImpliedVolatility(s * Math.exp(-q * t), 'call', s, k, t, r, q)).toBeNull();
    expect(bsmImpliedVolatility(k * Math.exp(-r * t) + 1, 'put', s, k, t, r, q)).toBeNull();
    expect(bsmImpliedVolatility(5, 'put', s, 200, t, r, q)).toBeNull(); // below the put's intrinsic value
    expect(bsmImpliedVolatility(12, 'call', s, k, 0, r, q)).toBeNull();
    expect(bsmImpliedVolatility(12, 'call', s, k, -1, r, q)).toBeNull();
    expect(bsmImpliedVolatility(-1, 'call', s, k, t, r, q)).toBeNull();
    expect(bsmImpliedVolatility(12, 'call', 0, k, t, r, q)).toBeNull();
    expect(bsmImpliedVolatility(12, 'call', s, 0, t, r, q)).toBeNull();
    expect(bsmImpliedVolatility(Number.NaN, 'call', s, k, t, r, q)).toBeNull();
    expect(black76ImpliedVolatility(3, 'call', -100, 100, t, r)).toBeNull();
  });

  it('returns 0 for a price exactly at intrinsic value (no time value left)', () => {
    expect(bsmImpliedVolatility(0, 'call', 100, 150, 0.5, 0.05, 0)).toBe(0);
    const intrinsicPut = 150 * Math.exp(-0.05 * 0.5) - 100;
    expect(bsmImpliedVolatility(intrinsicPut, 'put', 100, 150, 0.5, 0.05, 0)).toBe(0);
  });

  it('never returns NaN or Infinity, whatever the price', () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < 20_000; i++) {
      const right: OptionRight = random() < 0.5 ? 'call' : 'put';
      const spot = Math.exp(10 * (random() - 0.5));
      const strike = spot * Math.exp(8 * (random() - 0.5));
      const years = Math.exp(-8 + 11 * random());
      const rate = 0.3 * (random() - 0.3);
      const dividendYield = 0.2 * random();
      const upper = right === 'call' ? spot * Math.exp(-dividendYield * years) : strike * Math.exp(-rate * years);
      const price = upper * Math.pow(random(), 1 + 40 * random());
      const solved = bsmImpliedVolatility(price, right, spot, strike, years, rate, dividendYield);
      if (solved !== null) {
        expect(Number.isFinite(solved)).toBe(true);
        expect(solved).toBeGreaterThanOrEqual(0);
      }
    }
  });
});
