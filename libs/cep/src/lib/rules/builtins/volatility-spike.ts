/**
 * VOLATILITY_SPIKE: the at-the-money implied volatility of the nearest expiration jumps: up at least
 * minIvChangePoints vol points against the oldest snapshot in the lookback, and (unless minZscore is
 * 0) at least minZscore standard deviations above the lookback's mean.
 */
import { AfterMatchSkip, Pattern } from '../../pattern';
import { edgeTrigger, eventTimeParams, NS_PER_MS, roundAll, seconds, underlyingKey, type BuiltinPattern } from '../builtin';
import { atmVolatility, chainView } from '../chain';
import type { CepEvent } from '../rule';

interface Params {
  lookbackMs: number;
  minIvChangePoints: number;
  minZscore: number;
  minSamples: number;
  minDaysToExpiry: number;
  cooldownMs: number;
}

export const VOLATILITY_SPIKE: BuiltinPattern = {
  name: 'VOLATILITY_SPIKE',
  description:
    'From options.chains snapshots: the implied volatility at the strike nearest the underlying price, in the nearest expiration at least minDaysToExpiry away, rises at least minIvChangePoints vol points above the oldest snapshot within lookbackMs and at least minZscore standard deviations above the mean of the lookback (0 turns the z-score test off). After an expiration roll the lookback restarts. Fires once per episode, then not again within cooldownMs.',
  severity: 'warning',
  keyDescription: 'underlying symbol',
  params: {
    lookbackMs: { type: 'integer', default: 300_000, min: 10_000, max: 86_400_000, unit: 'ms', description: 'Window of past snapshots the volatility is compared with' },
    minIvChangePoints: { type: 'number', default: 5, min: 0, max: 500, unit: 'vol points', description: 'Smallest rise in implied volatility, in percentage points (5 = from 20% to 25%)' },
    minZscore: { type: 'number', default: 3, min: 0, max: 100, description: 'Smallest z-score of the volatility against the lookback (0: not tested)' },
    minSamples: { type: 'integer', default: 10, min: 2, max: 100_000, description: 'Snapshots the lookback must hold' },
    minDaysToExpiry: { type: 'number', default: 1, min: 0, max: 365, unit: 'days', description: 'Nearest expiration considered (1 skips same-day options)' },
    cooldownMs: { type: 'integer', default: 300_000, min: 0, max: 86_400_000, unit: 'ms', description: 'No second alert for the underlying within this span after one' },
    ...eventTimeParams({ outOfOrdernessMs: 2_000, idleKeyTtlMs: 3_600_000 }),
  },
  check(params) {
    const p = params as unknown as Params;
    return p.minIvChangePoints === 0 && p.minZscore === 0 ? 'minIvChangePoints: it and minZscore cannot both be 0' : undefined;
  },
  inputs: () => ['options.chains'],
  plan(params) {
    const p = params as unknown as Params;
    const atm = (event: CepEvent) => {
      const view = chainView(event);
      return view ? atmVolatility(view, p.minDaysToExpiry) : undefined;
    };
    const trigger = edgeTrigger(
      'spike',
      (event, scope) => {
        const now = atm(event);
        if (!now) return undefined;
        const window = scope.aggregate('atmIv');
        const since = scope.state('expiry').get('since') as number;
        return {
          ready: window.count >= p.minSamples && window.firstTs >= since,
          atmIv: now.iv,
          previousIv: window.first,
          ivChangePoints: (now.iv - window.first) * 100,
          meanIv: window.mean,
          zscore: window.zscore(now.iv),
          strike: now.strike,
          expiration: now.expiration,
          samples: window.count,
        };
      },
      (m) => m['ready'] === true && Number(m['ivChangePoints']) >= p.minIvChangePoints && (p.minZscore === 0 || Number(m['zscore']) >= p.minZscore),
      p.cooldownMs * NS_PER_MS,
    );
    return {
      keyBy: underlyingKey,
      aggregates: [{ name: 'atmIv', windowNs: p.lookbackMs * NS_PER_MS, value: (event) => atm(event)?.iv }],
      state: [
        {
          // The expiration the ATM volatility is read from, and since when: a roll restarts the lookback.
          name: 'expiry',
          update(event, table, scope) {
            const now = atm(event);
            if (!now || table.get('expiration') === now.expiration) return;
            table.set('expiration', now.expiration);
            table.set('since', scope.ts);
          },
        },
        trigger.state,
      ],
      pattern: Pattern.begin<CepEvent>('spike', AfterMatchSkip.skipPastLastEvent()).where(trigger.fired),
      capture: (_match, scope) => trigger.measurement(scope),
    };
  },
  describe(match, params) {
    const p = params as unknown as Params;
    const m = roundAll(match.captured ?? {});
    delete m['ready'];
    const pctOf = (iv: unknown): string => `${(Number(iv) * 100).toFixed(1)}%`;
    return {
      message: `${match.key} ATM implied volatility ${pctOf(m['previousIv'])} -> ${pctOf(m['atmIv'])} (+${Number(m['ivChangePoints']).toFixed(1)} vol points, z-score ${m['zscore']}) within ${seconds(p.lookbackMs * NS_PER_MS)}, ${m['expiration']} ${m['strike']}`,
      attributes: { ...m, lookbackSeconds: p.lookbackMs / 1000 },
    };
  },
};
