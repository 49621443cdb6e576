/**
 * PRICE_DIVERGENCE: the spot implied by the options (put-call parity on the strikes nearest the
 * money) disagrees with the underlying's own price, in two chain snapshots in a row.
 *
 * Per strike, S_implied = (C_mid - P_mid + K·e^{-rT})·e^{qT}; the median over the atmStrikes strikes
 * nearest the money of the nearest expiration is compared with the underlying's last quote mid
 * (market.quotes, at most maxQuoteAgeMs old) or with the snapshot's own underlying price. A
 * divergence counts when it exceeds minDivergenceBps and the options' half-spreads.
 */
import { AfterMatchSkip, Pattern } from '../../pattern';
import { eventTimeParams, num, NS_PER_MS, roundAll, symbolKey, underlyingKey, type BuiltinPattern, type Measurement } from '../builtin';
import { chainView, nearestExpiry, twoSided } from '../chain';
import type { CepEvent } from '../rule';

interface Params {
  reference: 'quotes' | 'chain';
  minDivergenceBps: number;
  atmStrikes: number;
  minDaysToExpiry: number;
  maxQuoteAgeMs: number;
  confirmWithinMs: number;
}

const CHAINS = 'options.chains';
const QUOTES = 'market.quotes';

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export const PRICE_DIVERGENCE: BuiltinPattern = {
  name: 'PRICE_DIVERGENCE',
  description:
    "The spot implied by put-call parity (median over the atmStrikes strikes nearest the money of the nearest expiration at least minDaysToExpiry away, at mid prices) differs from the underlying's price (its last market.quotes mid, or the snapshot's underlyingPrice) by at least minDivergenceBps and by more than the options' half-spreads, in a snapshot after one that did not diverge, and again in the next snapshot (same direction) within confirmWithinMs.",
  severity: 'warning',
  keyDescription: 'underlying symbol',
  params: {
    reference: { type: 'enum', values: ['quotes', 'chain'], default: 'quotes', description: "Compare with the underlying's last quote mid (market.quotes) or with the snapshot's underlyingPrice" },
    minDivergenceBps: { type: 'number', default: 50, min: 1, max: 10_000, unit: 'bp', description: 'Smallest difference between the implied and the actual price' },
    atmStrikes: { type: 'integer', default: 3, min: 1, max: 50, description: 'Strikes nearest the money whose implied spots are combined (median)' },
    minDaysToExpiry: { type: 'number', default: 1, min: 0, max: 365, unit: 'days', description: 'Nearest expiration considered' },
    maxQuoteAgeMs: { type: 'integer', default: 5_000, min: 1, max: 3_600_000, unit: 'ms', description: 'A quote older than this at the snapshot is no reference (reference quotes only)' },
    confirmWithinMs: { type: 'integer', default: 10_000, min: 100, max: 3_600_000, unit: 'ms', description: 'The confirming snapshot must come within this span of the first' },
    ...eventTimeParams({ outOfOrdernessMs: 1_000, idleKeyTtlMs: 3_600_000 }),
  },
  inputs: (params) => ((params as unknown as Params).reference === 'quotes' ? [CHAINS, QUOTES] : [CHAINS]),
  plan(params) {
    const p = params as unknown as Params;
    const maxAgeNs = p.maxQuoteAgeMs * NS_PER_MS;
    /** The direction (1 or -1) the snapshot diverges in, 0 when it does not. */
    const diverged = (event: CepEvent, table: ReadonlyMap<string, unknown>): number => {
      if (event.topic !== CHAINS) return 0;
      const now = table.get('now') as Measurement | undefined;
      return now && now['diverged'] === true ? Math.sign(Number(now['divergenceBps'])) : 0;
    };
    /** A snapshot that diverges the way the one starting the episode did. */
    const confirms = (event: CepEvent, table: ReadonlyMap<string, unknown>): boolean => {
      const sign = diverged(event, table);
      return sign !== 0 && sign === table.get('episode');
    };
    return {
      keyBy: (event) => (event.topic === CHAINS ? underlyingKey(event) : symbolKey(event)),
      state: [
        {
          name: 'quote',
          update(event, table, scope) {
            if (event.topic !== QUOTES) return;
            const bid = num(event, 'bidPrice');
            const ask = num(event, 'askPrice');
            if (bid > 0 && ask >= bid) {
              table.set('mid', (bid + ask) / 2);
              table.set('ts', scope.ts);
            }
          },
        },
        {
          // The last snapshot's measurement ('now'), whether the one before diverged ('before'), and the
          // direction of the divergence that started the current episode ('episode').
          name: 'divergence',
          update(event, table, scope) {
            const view = chainView(event);
            if (!view) return;
            const previous = table.get('now') as Measurement | undefined;
            table.set('before', previous ? previous['diverged'] === true : false);
            table.delete('now');
            let reference = view.underlyingPrice;
            if (p.reference === 'quotes') {
              const quote = scope.state('quote');
              const at = quote.get('ts') as number | undefined;
              if (at === undefined || scope.ts - at > maxAgeNs) return;
              reference = quote.get('mid') as number;
            }
            const pairs = nearestExpiry(view, p.minDaysToExpiry)
              .filter(twoSided)
              .sort((a, b) => Math.abs(a.strike - reference) - Math.abs(b.strike - reference))
              .slice(0, p.atmStrikes);
            if (pairs.length === 0) return;
            const implied: number[] = [];
            const noise: number[] = [];
            for (const pair of pairs) {
              const callMid = (pair.call.bid + pair.call.ask) / 2;
              const putMid = (pair.put.bid + pair.put.ask) / 2;
              const carry = Math.exp(view.dividendYield * pair.years);
              implied.push((callMid - putMid + pair.strike * Math.exp(-view.riskFreeRate * pair.years)) * carry);
              noise.push((((pair.call.ask - pair.call.bid) + (pair.put.ask - pair.put.bid)) / 2) * carry);
            }
            const impliedSpot = median(implied);
            const divergence = impliedSpot / reference - 1;
            const halfSpread = median(noise);
            const isDiverged = Math.abs(divergence) * 1e4 >= p.minDivergenceBps && Math.abs(impliedSpot - reference) > halfSpread;
            if (isDiverged && table.get('before') !== true) table.set('episode', Math.sign(divergence));
            table.set('now', {
              diverged: isDiverged,
              divergenceBps: divergence * 1e4,
              impliedSpot,
              referencePrice: reference,
              optionsHalfSpread: halfSpread,
              strikes: pairs.length,
              expiration: pairs[0].expiration,
            });
          },
        },
      ],
      pattern: Pattern.begin<CepEvent>('diverged', AfterMatchSkip.skipPastLastEvent())
        .where((event, ctx) => diverged(event, ctx.state('divergence')) !== 0 && ctx.state('divergence').get('before') !== true)
        .notFollowedBy('converged')
        .where((event, ctx) => event.topic === CHAINS && !confirms(event, ctx.state('divergence')))
        .followedBy('confirmed')
        .where((event, ctx) => confirms(event, ctx.state('divergence')))
        .within(p.confirmWithinMs * NS_PER_MS),
      capture: (_match, scope) => (scope.state('divergence').get('now') as Measurement | undefined) ?? {},
    };
  },
  describe(match) {
    const m = roundAll(match.captured ?? {});
    delete m['diverged'];
    const bps = Number(m['divergenceBps']);
    return {
      message: `${match.key} options imply ${m['impliedSpot']} against ${m['referencePrice']} (${bps >= 0 ? '+' : ''}${bps.toFixed(1)} bp) in two snapshots in a row`,
      attributes: m,
    };
  },
};
