import {
  black76Greeks,
  black76Price,
  bsmGreeks,
  bsmPrice,
  createOptionGreeks,
  OptionGreeks,
  OptionRight,
} from './black-scholes';

function greeks(right: OptionRight, s: number, k: number, t: number, r: number, q: number, v: number): OptionGreeks {
  const result = bsmGreeks(right, s, k, t, r, q, v);
  if (result === null) throw new Error('valid inputs gave no Greeks');
  return result;
}

function price(right: OptionRight, s: number, k: number, t: number, r: number, q: number, v: number): number {
  const result = bsmPrice(right, s, k, t, r, q, v);
  if (result === null) throw new Error('valid inputs gave no price');
  return result;
}

// E. G. Haug, "The Complete Guide to Option Pricing Formulas" (1998), pp. 2-8, 24, 27, as
// tabulated in QuantLib test-suite/europeanoption.cpp testValues (tolerance 1e-4 there too).
// [right, strike, spot, q, r, t, vol, value]
const HAUG_VALUES: ReadonlyArray<[OptionRight, number, number, number, number, number, number, number]> = [
  ['call', 65, 60, 0, 0.08, 0.25, 0.3, 2.1334],
  ['put', 95, 100, 0.05, 0.1, 0.5, 0.2, 2.4648],
  ['put', 19, 19, 0.1, 0.1, 0.75, 0.28, 1.7011],
  ['call', 19, 19, 0.1, 0.1, 0.75, 0.28, 1.7011],
  ['call', 1.6, 1.56, 0.08, 0.06, 0.5, 0.12, 0.0291],
  ['put', 70, 75, 0.05, 0.1, 0.5, 0.35, 4.087],
  ['call', 100, 90, 0.1, 0.1, 0.1, 0.15, 0.0205],
  ['call', 100, 100, 0.1, 0.1, 0.1, 0.15, 1.8734],
  ['call', 100, 110, 0.1, 0.1, 0.1, 0.15, 9.9413],
  ['call', 100, 90, 0.1, 0.1, 0.1, 0.25, 0.315],
  ['call', 100, 100, 0.1, 0.1, 0.1, 0.25, 3.1217],
  ['call', 100, 110, 0.1, 0.1, 0.1, 0.25, 10.3556],
  ['call', 100, 90, 0.1, 0.1, 0.1, 0.35, 0.9474],
  ['call', 100, 100, 0.1, 0.1, 0.1, 0.35, 4.3693],
  ['call', 100, 110, 0.1, 0.1, 0.1, 0.35, 11.1381],
  ['call', 100, 90, 0.1, 0.1, 0.5, 0.15, 0.8069],
  ['call', 100, 100, 0.1, 0.1, 0.5, 0.15, 4.0232],
  ['call', 100, 110, 0.1, 0.1, 0.5, 0.15, 10.5769],
  ['call', 100, 90, 0.1, 0.1, 0.5, 0.25, 2.7026],
  ['call', 100, 100, 0.1, 0.1, 0.5, 0.25, 6.6997],
  ['call', 100, 110, 0.1, 0.1, 0.5, 0.25, 12.7857],
  ['call', 100, 90, 0.1, 0.1, 0.5, 0.35, 4.9329],
  ['call', 100, 100, 0.1, 0.1, 0.5, 0.35, 9.3679],
  ['call', 100, 110, 0.1, 0.1, 0.5, 0.35, 15.3086],
  ['put', 100, 90, 0.1, 0.1, 0.1, 0.15, 9.921],
  ['put', 100, 100, 0.1, 0.1, 0.1, 0.15, 1.8734],
  ['put', 100, 110, 0.1, 0.1, 0.1, 0.15, 0.0408],
  ['put', 100, 90, 0.1, 0.1, 0.1, 0.25, 10.2155],
  ['put', 100, 100, 0.1, 0.1, 0.1, 0.25, 3.1217],
  ['put', 100, 110, 0.1, 0.1, 0.1, 0.25, 0.4551],
  ['put', 100, 90, 0.1, 0.1, 0.1, 0.35, 10.8479],
  ['put', 100, 100, 0.1, 0.1, 0.1, 0.35, 4.3693],
  ['put', 100, 110, 0.1, 0.1, 0.1, 0.35, 1.2376],
  ['put', 100, 90, 0.1, 0.1, 0.5, 0.15, 10.3192],
  ['put', 100, 100, 0.1, 0.1, 0.5, 0.15, 4.0232],
  ['put', 100, 110, 0.1, 0.1, 0.5, 0.15, 1.0646],
  ['put', 100, 90, 0.1, 0.1, 0.5, 0.25, 12.2149],
  ['put', 100, 100, 0.1, 0.1, 0.5, 0.25, 6.6997],
  ['put', 100, 110, 0.1, 0.1, 0.5, 0.25, 3.2734],
  ['put', 100, 90, 0.1, 0.1, 0.5, 0.35, 14.4452],
  ['put', 100, 100, 0.1, 0.1, 0.5, 0.35, 9.3679],
  ['put', 100, 110, 0.1, 0.1, 0.5, 0.35, 5.7963],
  ['call', 40, 42, 0.08, 0.04, 0.75, 0.35, 5.0975],
];

describe('Black-Scholes-Merton prices', () => {
  it("reproduce Hull's example S=42, K=40, r=10%, σ=20%, T=0.5: call 4.76, put 0.81", () => {
    expect(price('call', 42, 40, 0.5, 0.1, 0, 0.2)).toBeCloseTo(4.76, 2);
    expect(price('put', 42, 40, 0.5, 0.1, 0, 0.2)).toBeCloseTo(0.81, 2);
  });

  it("reproduce Haug's 43 reference values (as in QuantLib's europeanoption.cpp) to 1e-4", () => {
    for (const [right, strike, spot, q, r, t, vol, value] of HAUG_VALUES) {
      expect(Math.abs(price(right, spot, strike, t, r, q, vol) - value)).toBeLessThanOrEqual(1e-4);
    }
  });

  it("reproduce vollib's canonical Black-Scholes(-Merton) examples to their published precision", () => {
    expect(Math.abs(price('call', 100, 90, 0.5, 0.01, 0, 0.2) - 12.111581435)).toBeLessThan(1e-9);
    expect(Math.abs(price('put', 100, 90, 0.5, 0.01, 0, 0.2) - 1.66270456231)).toBeLessThan(1e-10);
    expect(Math.abs(price('call', 100, 100, 0.5, 0.01, 0, 0.2) - 5.87602423383)).toBeLessThan(1e-10);
    expect(Math.abs(price('put', 100, 95, 0.5, 0.1, 0.05, 0.2) - 2.4648)).toBeLessThan(1e-4);
  });

  it('satisfy put-call parity C - P = S·e^{-qT} - K·e^{-rT} to 1e-12 across strikes, expiries, vols, rates and yields', () => {
    for (const k of [50, 80, 95, 100, 105, 120, 200])
      for (const t of [1 / 365, 0.1, 1, 3])
        for (const v of [0.05, 0.3, 1, 3])
          for (const r of [-0.01, 0, 0.05, 0.08])
            for (const q of [0, 0.02, 0.05]) {
              const parity = 100 * Math.exp(-q * t) - k * Math.exp(-r * t);
              const difference = price('call', 100, k, t, r, q, v) - price('put', 100, k, t, r, q, v);
              expect(Math.abs(difference - parity)).toBeLessThan(1e-12 * Math.max(100, k));
            }
  });

  it('are worth the discounted forward intrinsic value at expiry and at zero volatility', () => {
    expect(price('call', 110, 100, 0, 0.05, 0, 0.3)).toBe(10);
    expect(price('put', 110, 100, 0, 0.05, 0, 0.3)).toBe(0);
    expect(price('put', 90, 100, 1, 0.05, 0.01, 0)).toBeCloseTo(100 * Math.exp(-0.05) - 90 * Math.exp(-0.01), 12);
  });

  it('are null rather than NaN for inputs no option can have', () => {
    expect(bsmPrice('call', 0, 100, 1, 0.05, 0, 0.2)).toBeNull();
    expect(bsmPrice('call', 100, -1, 1, 0.05, 0, 0.2)).toBeNull();
    expect(bsmPrice('call', 100, 100, -0.1, 0.05, 0, 0.2)).toBeNull();
    expect(bsmPrice('call', 100, 100, 1, 0.05, 0, -0.2)).toBeNull();
    expect(bsmPrice('call', Number.NaN, 100, 1, 0.05, 0, 0.2)).toBeNull();
    expect(bsmGreeks('put', 100, 100, 1, Number.POSITIVE_INFINITY, 0, 0.2)).toBeNull();
  });
});

describe('Black-Scholes-Merton Greeks', () => {
  it("reproduce Haug's Greek values (as in QuantLib's testGreekValues) to 1e-4", () => {
    expect(greeks('call', 105, 100, 0.5, 0.1, 0.1, 0.36).delta).toBeCloseTo(0.5946, 4);
    expect(greeks('put', 105, 100, 0.5, 0.1, 0.1, 0.36).delta).toBeCloseTo(-0.3566, 4);
    const elasticityPut = greeks('put', 105, 100, 0.5, 0.1, 0.1, 0.36);
    expect((elasticityPut.delta * 105) / elasticityPut.price).toBeCloseTo(-4.8775, 4);
    expect(greeks('call', 55, 60, 0.75, 0.1, 0, 0.3).gamma).toBeCloseTo(0.0278, 4);
    expect(greeks('put', 55, 60, 0.75, 0.1, 0, 0.3).gamma).toBeCloseTo(0.0278, 4);
    expect(greeks('call', 55, 60, 0.75, 0.1, 0, 0.3).vega).toBeCloseTo(18.9358, 4);
    expect(greeks('put', 55, 60, 0.75, 0.1, 0, 0.3).vega).toBeCloseTo(18.9358, 4);
    expect(greeks('put', 430, 405, 1 / 12, 0.07, 0.05, 0.2).theta).toBeCloseTo(-31.1924, 4);
    expect(greeks('put', 430, 405, 1 / 12, 0.07, 0.05, 0.2).thetaPerDay).toBeCloseTo(-0.0855, 4);
    expect(greeks('call', 72, 75, 1, 0.09, 0, 0.19).rho).toBeCloseTo(38.7325, 4);
  });

  it("reproduce Hull's Greek example S=49, K=50, r=5%, σ=20%, T=0.3846", () => {
    const call = greeks('call', 49, 50, 0.3846, 0.05, 0, 0.2);
    expect(call.delta).toBeCloseTo(0.522, 3);
    expect(call.theta).toBeCloseTo(-4.31, 2);
    expect(call.gamma).toBeCloseTo(0.066, 3);
    expect(call.vega).toBeCloseTo(12.1, 1);
    expect(call.rho).toBeCloseTo(8.91, 2);
  });

  it("reproduce vollib's Greeks with a dividend yield to 1e-12 (theta per day, vega and rho per point)", () => {
    const call = greeks('call', 100, 95, 0.5, 0.1, 0.05, 0.2);
    const put = greeks('put', 100, 95, 0.5, 0.1, 0.05, 0.2);
    expect(Math.abs(call.delta - 0.71112831239226)).toBeLessThan(1e-12);
    expect(Math.abs(put.delta - -0.2641815996360726)).toBeLessThan(1e-12);
    expect(Math.abs(call.thetaPerDay - -0.019618241284967603)).toBeLessThan(1e-12);
    expect(Math.abs(put.thetaPerDay - -0.008220624921638506)).toBeLessThan(1e-12);
    expect(Math.abs(call.gamma - 0.022839574296269996)).toBeLessThan(1e-12);
    expect(Math.abs(call.vegaPerPoint - 0.2283957429627)).toBeLessThan(1e-12);
    expect(Math.abs(call.rhoPerPoint - 0.3074192385860237)).toBeLessThan(1e-12);
    expect(Math.abs(put.rhoPerPoint - -0.1444147380518154)).toBeLessThan(1e-12);
    const hullPut = greeks('put', 49, 50, 0.3846, 0.05, 0, 0.2);
    expect(Math.abs(hullPut.theta - -1.8530056722)).toBeLessThan(1e-6);
  });

  it('give calls and puts the same gamma and vega, and deltas that differ by e^{-qT}', () => {
    for (const k of [60, 90, 100, 110, 180])
      for (const t of [2 / 365, 0.5, 2])
        for (const v of [0.1, 0.5, 2]) {
          const call = greeks('call', 100, k, t, 0.03, 0.02, v);
          const put = greeks('put', 100, k, t, 0.03, 0.02, v);
          expect(Math.abs(call.gamma - put.gamma)).toBeLessThanOrEqual(1e-15 * Math.max(1, call.gamma));
          expect(Math.abs(call.vega - put.vega)).toBeLessThanOrEqual(1e-12 * Math.max(1, call.vega));
          expect(Math.abs(call.delta - put.delta - Math.exp(-0.02 * t))).toBeLessThan(1e-15);
        }
  });

  it('agree with finite differences of the price', () => {
    const [s, k, t, r, q, v] = [100, 105, 0.4, 0.03, 0.015, 0.27];
    for (const right of ['call', 'put'] as const) {
      const g = greeks(right, s, k, t, r, q, v);
      const h = 1e-4;
      expect(g.delta).toBeCloseTo((price(right, s + h, k, t, r, q, v) - price(right, s - h, k, t, r, q, v)) / (2 * h), 8);
      expect(g.gamma).toBeCloseTo(
        (price(right, s + 0.01, k, t, r, q, v) - 2 * g.price + price(right, s - 0.01, k, t, r, q, v)) / 1e-4,
        6,
      );
      expect(g.vega).toBeCloseTo((price(right, s, k, t, r, q, v + h) - price(right, s, k, t, r, q, v - h)) / (2 * h), 6);
      expect(g.theta).toBeCloseTo(-(price(right, s, k, t + h, r, q, v) - price(right, s, k, t - h, r, q, v)) / (2 * h), 6);
      // Rho moves the rate with the dividend yield held fixed.
      expect(g.rho).toBeCloseTo((price(right, s, k, t, r + h, q, v) - price(right, s, k, t, r - h, q, v)) / (2 * h), 6);
    }
  });

  it('write into a caller-owned result object instead of allocating one', () => {
    const out = createOptionGreeks();
    expect(bsmGreeks('call', 100, 100, 1, 0.05, 0, 0.2, out)).toBe(out);
    expect(out.price).toBeCloseTo(10.4506, 4);
  });
});

describe('Black-76', () => {
  const [f, k, t, r, v] = [49, 50, 0.3846, 0.05, 0.2];

  it("reproduces vollib's canonical Black examples to 1e-12, price and Greeks (per day / per point)", () => {
    expect(Math.abs((black76Price('call', 100, 100, 0.5, 0.02, 0.2) ?? 0) - 5.581106724604812)).toBeLessThan(1e-12);
    const call = black76Greeks('call', f, k, t, r, v);
    const put = black76Greeks('put', f, k, t, r, v);
    if (call === null || put === null) throw new Error('valid inputs gave no Greeks');
    expect(Math.abs(call.delta - 0.4510701748220183)).toBeLessThan(1e-12);
    expect(Math.abs(call.gamma - 0.0640646705882)).toBeLessThan(1e-12);
    expect(Math.abs(call.vegaPerPoint - 0.118317785624)).toBeLessThan(1e-12);
    expect(Math.abs(call.thetaPerDay - -0.00816236877462)).toBeLessThan(1e-12);
    expect(Math.abs(put.thetaPerDay - -0.00802799155312)).toBeLessThan(1e-12);
    expect(Math.abs(call.rhoPerPoint - -0.007470538005958226)).toBeLessThan(1e-12);
    expect(Math.abs(put.rhoPerPoint - -0.011243286001308292)).toBeLessThan(1e-12);
  });

  it('equals Black-Scholes-Merton on the spot whose forward is F, with the same gamma for calls and puts', () => {
    const spot = 100;
    const forward = spot * Math.exp((0.04 - 0.01) * 0.75);
    for (const right of ['call', 'put'] as const) {
      const viaForward = black76Price(right, forward, 95, 0.75, 0.04, 0.3) ?? Number.NaN;
      expect(Math.abs(viaForward - price(right, spot, 95, 0.75, 0.04, 0.01, 0.3))).toBeLessThan(1e-12);
    }
    expect(black76Greeks('call', f, k, t, r, v)?.gamma).toBe(black76Greeks('put', f, k, t, r, v)?.gamma);
  });
});
