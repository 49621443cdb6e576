/**
 * ARBITRAGE_OPPORTUNITY: put-call parity violated by more than costs in a chain snapshot.
 *
 * Parity for European options: C - P = S·e^{-qT} - K·e^{-rT}. Executable at the quotes:
 * a conversion (sell the call at its bid, buy the put at its ask, buy the stock) earns
 * (C_bid - P_ask) - (S·e^{-qT} - K·e^{-rT}); a reversal (buy the call at its ask, sell the put at its
 * bid, short the stock) earns (S·e^{-qT} - K·e^{-rT}) - (C_ask - P_bid). Either, less the costs per
 * share, must exceed minEdge. Listed equity options are American: early exercise makes parity a band
 * for deep in-the-money contracts, so only strikes within maxMoneynessPct of the spot are checked.
 */
import { AfterMatchSkip, Pattern } from '../../pattern';
import { edgeTrigger, eventTimeParams, NS_PER_MS, round, underlyingKey, type BuiltinPattern, type Measurement } from '../builtin';
import { chainView, parityValue, twoSided } from '../chain';
import type { CepEvent } from '../rule';

interface Params {
  minEdge: number;
  costPerShare: number;
  maxMoneynessPct: number;
  minDaysToExpiry: number;
  maxDaysToExpiry: number;
  cooldownMs: number;
}

export const ARBITRAGE_OPPORTUNITY: BuiltinPattern = {
  name: 'ARBITRAGE_OPPORTUNITY',
  description:
    'A call and a put of the same strike and expiration violate put-call parity at their quotes by more than costPerShare + minEdge per share: a conversion (call bid - put ask above S·e^{-qT} - K·e^{-rT}) or a reversal (call ask - put bid below it). Strikes within maxMoneynessPct of the spot and expirations in [minDaysToExpiry, maxDaysToExpiry]. Fires once per episode, then not again within cooldownMs.',
  severity: 'warning',
  keyDescription: 'underlying symbol',
  params: {
    minEdge: { type: 'number', default: 0.05, min: 0, max: 1_000, unit: 'USD/share', description: 'Smallest profit per share after costs' },
    costPerShare: { type: 'number', default: 0.03, min: 0, max: 1_000, unit: 'USD/share', description: 'Commissions, fees and the stock leg spread of the three legs, per share' },
    maxMoneynessPct: { type: 'number', default: 10, min: 0.1, max: 100, unit: '%', description: 'Only strikes within this distance of the underlying price' },
    minDaysToExpiry: { type: 'number', default: 0, min: 0, max: 3_650, unit: 'days', description: 'Skip expirations nearer than this' },
    maxDaysToExpiry: { type: 'number', default: 90, min: 0, max: 3_650, unit: 'days', description: 'Skip expirations further out than this' },
    cooldownMs: { type: 'integer', default: 60_000, min: 0, max: 86_400_000, unit: 'ms', description: 'No second alert for the underlying within this span after one' },
    ...eventTimeParams({ outOfOrdernessMs: 1_000, idleKeyTtlMs: 3_600_000 }),
  },
  check(params) {
    const p = params as unknown as Params;
    return p.maxDaysToExpiry < p.minDaysToExpiry ? `maxDaysToExpiry: ${p.maxDaysToExpiry} is below minDaysToExpiry (${p.minDaysToExpiry})` : undefined;
  },
  inputs: () => ['options.chains'],
  plan(params) {
    const p = params as unknown as Params;
    const trigger = edgeTrigger(
      'parity',
      (event: CepEvent): Measurement | undefined => {
        const view = chainView(event);
        if (!view) return undefined;
        let best: { edge: number; strategy: string; strike: number; expiration: string; parity: number; callBid: number; callAsk: number; putBid: number; putAsk: number } | undefined;
        let violations = 0;
        const maxDistance = (view.underlyingPrice * p.maxMoneynessPct) / 100;
        for (const pair of view.pairs) {
          const days = pair.years * 365;
          if (days < p.minDaysToExpiry || days > p.maxDaysToExpiry || Math.abs(pair.strike - view.underlyingPrice) > maxDistance || !twoSided(pair)) continue;
          const parity = parityValue(view, pair);
          const conversion = pair.call.bid - pair.put.ask - parity - p.costPerShare;
          const reversal = parity - (pair.call.ask - pair.put.bid) - p.costPerShare;
          const edge = Math.max(conversion, reversal);
          if (edge >= p.minEdge) violations++;
          if (!best || edge > best.edge) {
            best = {
              edge,
              strategy: conversion >= reversal ? 'conversion' : 'reversal',
              strike: pair.strike,
              expiration: pair.expiration,
              parity,
              callBid: pair.call.bid,
              callAsk: pair.call.ask,
              putBid: pair.put.bid,
              putAsk: pair.put.ask,
            };
          }
        }
        if (!best) return { checked: false };
        return {
          checked: true,
          edgePerShare: round(best.edge),
          edgePerContract: round(best.edge * 100, 2),
          strategy: best.strategy,
          strike: best.strike,
          expiration: best.expiration,
          parityValue: round(best.parity),
          callBid: best.callBid,
          callAsk: best.callAsk,
          putBid: best.putBid,
          putAsk: best.putAsk,
          underlyingPrice: view.underlyingPrice,
          violations,
        };
      },
      (m) => Number(m['violations']) > 0,
      p.cooldownMs * NS_PER_MS,
    );
    return {
      keyBy: underlyingKey,
      state: [trigger.state],
      pattern: Pattern.begin<CepEvent>('violation', AfterMatchSkip.skipPastLastEvent()).where(trigger.fired),
      capture: (_match, scope) => trigger.measurement(scope),
    };
  },
  describe(match) {
    const m = match.captured ?? {};
    const attributes: Record<string, number | string | boolean | null> = { ...m };
    delete attributes['checked'];
    return {
      message: `${match.key} ${m['expiration']} ${m['strike']}: ${m['strategy']} earns ${m['edgePerShare']} per share after costs (put-call parity, ${m['violations']} strike(s) in violation)`,
      attributes,
    };
  },
};
