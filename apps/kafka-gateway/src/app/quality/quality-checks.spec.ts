import {
  BoundedMap,
  canonicalJson,
  DuplicateFilter,
  durationText,
  fingerprintOf,
  GapDetector,
  millisOf,
  PriceOutlierDetector,
  type OutlierOptions,
} from './quality-checks';

const at = (partition: number, offset: number) => ({ partition, offset: String(offset) });

describe('duplicate suppression by fingerprint', () => {
  it('takes the idempotency key when the producer gave one, else a hash of the value whatever its key order', () => {
    expect(fingerprintOf({ a: 1 }, 'feed-a/42')).toBe('key:feed-a/42');
    const one = fingerprintOf({ symbol: 'AAPL', price: 1, conditions: ['@', 'F'] }, undefined);
    const same = fingerprintOf({ conditions: ['@', 'F'], price: 1, symbol: 'AAPL' }, undefined);
    const other = fingerprintOf({ symbol: 'AAPL', price: 1, conditions: ['F', '@'] }, undefined);
    expect(one).toBe(same);
    expect(one).not.toBe(other);
    expect(canonicalJson({ b: [1, { d: 2, c: null }], a: 'x', u: undefined })).toBe('{"a":"x","b":[1,{"c":null,"d":2}]}');
  });

  it('drops a record seen again within the window and names where it was first seen', () => {
    const filter = new DuplicateFilter({ windowMs: 60_000, maxEntries: 100 });
    expect(filter.check('f1', 1_000, at(0, 10))).toBeUndefined();
    expect(filter.check('f2', 2_000, at(0, 11))).toBeUndefined();
    expect(filter.check('f1', 1_000, at(0, 12))).toEqual(at(0, 10));
  });

  it('does not call a redelivery of the same record (same partition and offset) a duplicate', () => {
    const filter = new DuplicateFilter({ windowMs: 60_000, maxEntries: 100 });
    filter.check('f1', 1_000, at(3, 7));
    expect(filter.check('f1', 1_000, at(3, 7))).toBeUndefined();
  });

  it('forgets a fingerprint once event time moved past the window, so the same content later is no duplicate', () => {
    const filter = new DuplicateFilter({ windowMs: 5_000, maxEntries: 100 });
    filter.check('f1', 1_000, at(0, 1));
    filter.check('other', 7_000, at(0, 2)); // event time 6 s later
    expect(filter.check('f1', 7_500, at(0, 3))).toBeUndefined();
    expect(filter.size).toBe(2);
  });

  it('keeps memory bounded: the oldest fingerprints go first beyond the limit', () => {
    const filter = new DuplicateFilter({ windowMs: 3_600_000, maxEntries: 3 });
    for (let i = 0; i < 10; i++) filter.check(`f${i}`, 1_000 + i, at(0, i));
    expect(filter.size).toBe(3);
    expect(filter.check('f9', 1_009, at(0, 99))).toEqual(at(0, 9));
    expect(filter.check('f0', 1_000, at(0, 100))).toBeUndefined();
  });
});

describe('fat-finger outliers against the rolling mean and deviation', () => {
  const options: OutlierOptions = { zThreshold: 6, minHistory: 20, window: 50, minMoveBps: 50, levelShiftAfter: 4, maxSymbols: 100 };
  const warm = (detector: PriceOutlierDetector, symbol = 'AAPL', count = 30): void => {
    for (let i = 0; i < count; i++) expect(detector.check(symbol, 100 + (i % 5) * 0.1).outlier).toBe(false);
  };

  it('judges nothing before the minimum history', () => {
    const detector = new PriceOutlierDetector(options);
    for (let i = 0; i < 19; i++) detector.check('AAPL', 100);
    expect(detector.check('AAPL', 1000)).toEqual({ outlier: false });
  });

  it('flags a price many deviations away with its statistics, and keeps it out of the history', () => {
    const detector = new PriceOutlierDetector(options);
    warm(detector);
    const verdict = detector.check('AAPL', 1002);
    expect(verdict.outlier).toBe(true);
    expect(verdict.mean).toBeCloseTo(100.2, 6);
    expect(verdict.stddev).toBeGreaterThan(0.1);
    expect(verdict.zScore).toBeGreaterThan(6);
    expect(detector.check('AAPL', 100.3)).toMatchObject({ outlier: false });
    expect(detector.check('AAPL', 100.3).mean).toBeCloseTo(100.2, 1);
  });

  it('lets a normal move pass, and a one-tick move of a quiet symbol (below the minimum move)', () => {
    const detector = new PriceOutlierDetector(options);
    warm(detector);
    expect(detector.check('AAPL', 100.5).outlier).toBe(false);
    const quiet = new PriceOutlierDetector(options);
    for (let i = 0; i < 30; i++) quiet.check('QUIET', 50);
    expect(quiet.check('QUIET', 50.01)).toMatchObject({ outlier: false });
    expect(quiet.check('QUIET', 60).outlier).toBe(true);
  });

  it('takes a run of outliers on the same side as a new price level and restarts the history there', () => {
    const detector = new PriceOutlierDetector(options);
    warm(detector);
    expect(detector.check('AAPL', 120).outlier).toBe(true);
    expect(detector.check('AAPL', 120.1).outlier).toBe(true);
    expect(detector.check('AAPL', 119.9).outlier).toBe(true);
    expect(detector.check('AAPL', 120)).toMatchObject({ outlier: true, levelShift: true });
    // The history now holds the new level: but is short, so nothing is judged until it grows again.
    expect(detector.check('AAPL', 120.2).outlier).toBe(false);
  });

  it('keeps symbols apart and their number bounded', () => {
    const detector = new PriceOutlierDetector({ ...options, maxSymbols: 2 });
    warm(detector, 'AAPL');
    warm(detector, 'MSFT');
    warm(detector, 'SPY');
    expect(detector.trackedSymbols).toBe(2);
    expect(detector.check('SPY', 1000).outlier).toBe(true);
    expect(detector.check('AAPL', 1000)).toEqual({ outlier: false }); // forgotten: starts again
  });
});

describe('gaps in a symbol stream at several granularities', () => {
  it('reports each granularity a gap exceeds: 500 ms, 5 s and 30 s', () => {
    const gaps = new GapDetector({ granularitiesMs: [30_000, 500, 5_000], maxSymbols: 10 });
    expect(gaps.check('AAPL', 1_000)).toBeUndefined();
    expect(gaps.check('AAPL', 1_400)).toBeUndefined();
    expect(gaps.check('AAPL', 2_000)).toEqual({ gapMs: 600, exceededMs: [500] });
    expect(gaps.check('AAPL', 8_000)).toEqual({ gapMs: 6_000, exceededMs: [500, 5_000] });
    expect(gaps.check('AAPL', 48_000)).toEqual({ gapMs: 40_000, exceededMs: [500, 5_000, 30_000] });
  });

  it('never reports a gap for an out-of-order record, and keeps symbols apart', () => {
    const gaps = new GapDetector({ granularitiesMs: [500], maxSymbols: 10 });
    gaps.check('AAPL', 10_000);
    gaps.check('MSFT', 1_000);
    expect(gaps.check('AAPL', 9_000)).toBeUndefined();
    expect(gaps.check('AAPL', 10_400)).toBeUndefined(); // measured from the newest, 10 000
    expect(gaps.check('MSFT', 1_200)).toBeUndefined();
  });

  it('writes granularities as contract durations and reads event times in milliseconds', () => {
    expect([500, 5_000, 30_000, 120_000, 3_600_000, 1_500].map(durationText)).toEqual(['500ms', '5s', '30s', '2m', '1h', '1500ms']);
    expect(millisOf('1742567400123456789')).toBeCloseTo(1742567400123.4568, 3);
  });

  it('bounds its symbols, forgetting the least recently seen', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1);
    map.set('b', 2);
    map.get('a');
    map.set('c', 3);
    expect([map.get('a'), map.get('b'), map.get('c')]).toEqual([1, undefined, 3]);
  });
});
