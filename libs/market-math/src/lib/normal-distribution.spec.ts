import { erfc, erfcx, inverseNormalCdf, normalCdf, normalPdf } from './normal-distribution';

// Reference values computed to 30 significant digits (mpmath) and rounded to 17.
const NORMAL_CDF_REFERENCE: ReadonlyArray<[number, number]> = [
  [-37, 5.725571222524577e-300],
  [-30, 4.906713927148187e-198],
  [-20, 2.7536241186062337e-89],
  [-10, 7.619853024160525e-24],
  [-5, 2.866515718791939e-7],
  [-2.5, 0.006209665325776135],
  [-1, 0.15865525393145705],
  [-0.3, 0.3820885778110474],
  [0, 0.5],
  [0.3, 0.6179114221889527],
  [1, 0.8413447460685429],
  [2.5, 0.9937903346742238],
  [5, 0.9999997133484281],
  [8, 0.9999999999999993],
];

const ERFC_REFERENCE: ReadonlyArray<[number, number, number]> = [
  [0.1, 0.887537083981715, 0.8964569799691267],
  [0.46875, 0.507386526782062, 0.6320696892495561],
  [0.5, 0.4795001221869535, 0.6156903441929259],
  [1, 0.15729920705028513, 0.427583576155807],
  [2, 0.004677734981047266, 0.25539567631050575],
  [3.9, 3.4792248597231765e-8, 0.1403141816006897],
  [4.5, 1.9661604415428876e-10, 0.12248480427384142],
  [10, 2.088487583762545e-45, 0.05614099274382259],
  [26, 5.663192408856143e-296, 0.021683584850562907],
  [-0.3, 1.3286267594591274, 1.4537492328427657],
  [-1, 1.842700792949715, 5.008980080762283],
  [-3, 1.9999779095030015, 16205.988853999586],
];

function relativeError(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected);
}

describe('normal distribution', () => {
  it('erfc and erfcx match 30-digit references to 1e-15 relative in every Cody interval', () => {
    for (const [x, erfcRef, erfcxRef] of ERFC_REFERENCE) {
      expect(relativeError(erfc(x), erfcRef)).toBeLessThan(1e-15);
      expect(relativeError(erfcx(x), erfcxRef)).toBeLessThan(1e-15);
    }
  });

  it('Φ is accurate to 1e-14 relative down to z = -10 and 1e-13 in the far tail to z = -37', () => {
    for (const [z, reference] of NORMAL_CDF_REFERENCE) {
      expect(relativeError(normalCdf(z), reference)).toBeLessThan(z >= -10 ? 1e-14 : 1e-13);
    }
  });

  it('Φ(z) + Φ(-z) = 1 and φ is the slope of Φ', () => {
    for (let z = -8; z <= 8; z += 0.37) {
      expect(Math.abs(normalCdf(z) + normalCdf(-z) - 1)).toBeLessThan(2e-16);
      const h = 1e-5;
      expect(Math.abs((normalCdf(z + h) - normalCdf(z - h)) / (2 * h) - normalPdf(z))).toBeLessThan(1e-9);
    }
  });

  it('Φ⁻¹ inverts Φ from 1e-300 to 1 - 1e-10 and matches published quantiles to 1e-15', () => {
    expect(relativeError(inverseNormalCdf(0.975), 1.959963984540054)).toBeLessThan(1e-15);
    expect(relativeError(inverseNormalCdf(0.01), -2.3263478740408408)).toBeLessThan(1e-15);
    for (const p of [1e-300, 1e-100, 1e-20, 1e-5, 0.01, 0.02425, 0.3, 0.5, 0.7, 0.97575, 0.99, 1 - 1e-10]) {
      const z = inverseNormalCdf(p);
      const back = z <= 0 ? normalCdf(z) : 1 - normalCdf(-z);
      expect(relativeError(z <= 0 ? back : 1 - back, z <= 0 ? p : 1 - p)).toBeLessThan(p < 1e-20 ? 1e-12 : 1e-14);
    }
    expect(inverseNormalCdf(0.5)).toBe(0);
    expect(inverseNormalCdf(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(inverseNormalCdf(1)).toBe(Number.POSITIVE_INFINITY);
  });
});
