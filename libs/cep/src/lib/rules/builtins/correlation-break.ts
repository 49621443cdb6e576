/**
 * CORRELATION_BREAK: the rolling correlation of two symbols' returns (e.g. SPY and QQQ) falls below
 * breakBelow after having been at or above coupledAbove.
 *
 * Returns are taken per interval of sampleMs (the last trade price of each interval against the one
 * before), or per 1 s candle; an interval enters the correlation window once both symbols have a
 * return for it. The key is the pair, e.g. `SPY/QQQ`; events of other symbols only move event time.
 */
import type { StateUpdateScope } from '../../engine';
import { AfterMatchSkip, Pattern } from '../../pattern';
import { eventTimeParams, num, NS_PER_MS, round, seconds, str, type BuiltinPattern } from '../builtin';
import type { CepEvent } from '../rule';

interface Params {
  symbolA: string;
  symbolB: string;
  source: 'trades' | 'candles';
  sampleMs: number;
  windowMs: number;
  minSamples: number;
  coupledAbove: number;
  breakBelow: number;
}

const TICKER = /^[A-Z0-9][A-Z0-9./-]{0,19}$/;

/** One leg's sampling state: the interval being filled, its last price, the previous interval's close. */
interface Leg {
  bucket: number;
  last: number;
  close: number | null;
}

/** A leg's finished interval waiting for the other leg's return of the same interval. */
interface Pending {
  bucket: number;
  ret: number;
}

export const CORRELATION_BREAK: BuiltinPattern = {
  name: 'CORRELATION_BREAK',
  description:
    'The correlation of the returns of symbolA and symbolB over windowMs (returns per sampleMs interval of trades, or per 1 s candle) falls below breakBelow after having been at or above coupledAbove, with at least minSamples paired returns in the window. Keyed by the pair "A/B"; one alert per break.',
  severity: 'warning',
  keyDescription: 'pair of symbols, "A/B"',
  params: {
    symbolA: { type: 'string', pattern: TICKER, default: 'SPY', description: 'First symbol of the pair' },
    symbolB: { type: 'string', pattern: TICKER, default: 'QQQ', description: 'Second symbol of the pair' },
    source: { type: 'enum', values: ['trades', 'candles'], default: 'trades', description: 'Returns from market.trades per sampleMs, or from candles.1s (first revision of each window)' },
    sampleMs: { type: 'integer', default: 1_000, min: 100, max: 3_600_000, unit: 'ms', description: 'Interval a return is taken over (trades only)' },
    windowMs: { type: 'integer', default: 300_000, min: 10_000, max: 86_400_000, unit: 'ms', description: 'Window of paired returns the correlation is computed over' },
    minSamples: { type: 'integer', default: 60, min: 10, max: 1_000_000, description: 'Paired returns the window must hold' },
    coupledAbove: { type: 'number', default: 0.7, min: -1, max: 1, description: 'Correlation at or above which the pair counts as moving together' },
    breakBelow: { type: 'number', default: 0.3, min: -1, max: 1, description: 'Correlation below which the pair has broken apart' },
    ...eventTimeParams({ outOfOrdernessMs: 1_000, idleKeyTtlMs: 3_600_000 }),
  },
  check(params) {
    const p = params as unknown as Params;
    if (p.symbolA === p.symbolB) return `symbolB: must differ from symbolA (${p.symbolA})`;
    if (p.breakBelow >= p.coupledAbove) return `breakBelow: ${p.breakBelow} must be below coupledAbove (${p.coupledAbove})`;
    if (p.source === 'trades' && p.windowMs < p.minSamples * p.sampleMs) return `windowMs: ${p.windowMs} cannot hold minSamples (${p.minSamples}) intervals of ${p.sampleMs} ms`;
    return undefined;
  },
  inputs: (params) => [(params as unknown as Params).source === 'trades' ? 'market.trades' : 'candles.1s'],
  // The two legs are two symbols: on different partitions of the input, so one engine sees both.
  placement: () => 'global',
  plan(params) {
    const p = params as unknown as Params;
    const pair = `${p.symbolA}/${p.symbolB}`;
    const fromTrades = p.source === 'trades';
    const topic = fromTrades ? 'market.trades' : 'candles.1s';
    const sampleNs = p.sampleMs * NS_PER_MS;
    const legOf = (event: CepEvent): 'A' | 'B' | undefined => {
      const symbol = str(event, 'symbol');
      return symbol === p.symbolA ? 'A' : symbol === p.symbolB ? 'B' : undefined;
    };
    /** A finished interval's return of one leg: paired with the other leg's, or left waiting for it. */
    const finish = (table: Map<string, unknown>, scope: StateUpdateScope, leg: 'A' | 'B', bucket: number, ret: number): void => {
      const other = leg === 'A' ? 'B' : 'A';
      const waiting = table.get(`pending${other}`) as Pending | undefined;
      if (waiting && waiting.bucket === bucket) {
        table.delete(`pending${other}`);
        if (leg === 'A') scope.sample('correlation', ret, waiting.ret);
        else scope.sample('correlation', waiting.ret, ret);
      } else if (!waiting || waiting.bucket < bucket) {
        // The other leg has nothing for this interval yet (its older return can no longer pair).
        table.delete(`pending${other}`);
        table.set(`pending${leg}`, { bucket, ret });
      }
    };
    return {
      keyBy: () => pair,
      filter: (event) => event.topic === topic && legOf(event) !== undefined && (fromTrades || event.value['revision'] === 0),
      aggregates: [{ name: 'correlation', windowNs: p.windowMs * NS_PER_MS, value: () => undefined }],
      state: [
        {
          name: 'returns',
          update(event, table, scope) {
            const leg = legOf(event) as 'A' | 'B';
            if (!fromTrades) {
              // A candle is a finished interval: its close against the previous candle's.
              const close = num(event, 'close');
              const previous = table.get(`close${leg}`) as number | undefined;
              table.set(`close${leg}`, close);
              if (previous !== undefined) finish(table, scope, leg, scope.ts, close / previous - 1);
              return;
            }
            const price = num(event, 'price');
            const bucket = Math.floor(scope.ts / sampleNs);
            const state = table.get(`leg${leg}`) as Leg | undefined;
            if (!state) {
              table.set(`leg${leg}`, { bucket, last: price, close: null });
              return;
            }
            if (bucket > state.bucket) {
              if (state.close !== null) finish(table, scope, leg, state.bucket, state.last / state.close - 1);
              table.set(`leg${leg}`, { bucket, last: price, close: state.last });
            } else {
              table.set(`leg${leg}`, { ...state, last: price });
            }
          },
        },
        {
          // Whether the pair is coupled now, the edge into coupling, and the highest correlation since.
          name: 'coupling',
          update(_event, table, scope) {
            const window = scope.aggregate('correlation');
            const ready = window.count >= p.minSamples;
            const correlation = window.correlation;
            const coupled = ready && correlation >= p.coupledAbove;
            table.set('edge', coupled && table.get('coupled') !== true);
            table.set('coupled', coupled);
            table.set('broken', ready && correlation < p.breakBelow);
            if (coupled) table.set('peak', table.get('edge') === true ? correlation : Math.max(correlation, table.get('peak') as number));
          },
        },
      ],
      pattern: Pattern.begin<CepEvent>('coupled', AfterMatchSkip.skipPastLastEvent())
        .where((_event, ctx) => ctx.state('coupling').get('edge') === true)
        .followedBy('broken')
        .where((_event, ctx) => ctx.state('coupling').get('broken') === true),
      capture: (_match, scope) => {
        const window = scope.aggregate('correlation');
        return { correlation: window.correlation, peakCorrelation: (scope.state('coupling').get('peak') as number | undefined) ?? null, samples: window.count };
      },
    };
  },
  describe(match, params) {
    const p = params as unknown as Params;
    const m = match.captured ?? {};
    const coupledFor = match.lastEventTs - match.windowStart;
    return {
      message: `${match.key} correlation of returns fell to ${round(Number(m['correlation']), 3)} (below ${p.breakBelow}) from ${round(Number(m['peakCorrelation']), 3)}, ${seconds(coupledFor)} after the pair coupled`,
      attributes: {
        correlation: round(Number(m['correlation'])),
        peakCorrelation: round(Number(m['peakCorrelation'])),
        samples: Number(m['samples']),
        coupledAbove: p.coupledAbove,
        breakBelow: p.breakBelow,
        windowSeconds: p.windowMs / 1000,
        coupledSeconds: coupledFor / 1e9,
      },
    };
  },
};
