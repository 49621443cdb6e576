/**
 * OPTION_FLOW: a burst of large sweeps or blocks in one underlying's options: at least minCount
 * flows of the chosen kinds, each of at least minPremium, within windowMs.
 */
import { AfterMatchSkip, Pattern } from '../../pattern';
import { eventTimeParams, matchedEvents, num, NS_PER_MS, seconds, str, underlyingKey, type BuiltinPattern } from '../builtin';
import type { CepEvent } from '../rule';

interface Params {
  kinds: readonly string[];
  minPremium: number;
  minCount: number;
  windowMs: number;
}

const FLOW = 'options.flow';

/** Bullish: calls bought or puts sold; bearish: puts bought or calls sold; otherwise neutral. */
function bias(event: CepEvent): 'bullish' | 'bearish' | 'neutral' {
  const right = str(event, 'right');
  const side = str(event, 'side');
  if (side !== 'buy' && side !== 'sell') return 'neutral';
  return (right === 'call') === (side === 'buy') ? 'bullish' : 'bearish';
}

export const OPTION_FLOW: BuiltinPattern = {
  name: 'OPTION_FLOW',
  description:
    'At least minCount option flows of the given kinds (sweeps and blocks by default), each with a premium of at least minPremium, in one underlying within windowMs. Each flow belongs to one alert at most.',
  severity: 'info',
  keyDescription: 'underlying symbol',
  params: {
    kinds: { type: 'strings', values: ['sweep', 'block', 'split', 'unusual_volume'], minItems: 1, default: ['sweep', 'block'], description: 'Kinds of options.flow records that count' },
    minPremium: { type: 'number', default: 200_000, min: 0, max: 1e10, unit: 'USD', description: 'Smallest premium of a flow that counts' },
    minCount: { type: 'integer', default: 5, min: 1, max: 1_000, description: 'Flows needed within the window' },
    windowMs: { type: 'integer', default: 60_000, min: 1_000, max: 86_400_000, unit: 'ms', description: 'Span the flows must fall in' },
    ...eventTimeParams({ outOfOrdernessMs: 1_000, idleKeyTtlMs: 3_600_000 }),
  },
  inputs: () => [FLOW],
  plan(params) {
    const p = params as unknown as Params;
    const kinds = new Set(p.kinds);
    return {
      keyBy: underlyingKey,
      pattern: Pattern.begin<CepEvent>('flow', AfterMatchSkip.skipPastLastEvent())
        .where((event) => event.topic === FLOW && kinds.has(str(event, 'kind')) && num(event, 'premium') >= p.minPremium)
        .times(p.minCount)
        .within(p.windowMs * NS_PER_MS),
    };
  },
  describe(match) {
    const flows = matchedEvents(match).map((matched) => matched.event);
    const premium = (list: CepEvent[]): number => list.reduce((sum, event) => sum + num(event, 'premium'), 0);
    const total = premium(flows);
    const bullish = premium(flows.filter((event) => bias(event) === 'bullish'));
    const bearish = premium(flows.filter((event) => bias(event) === 'bearish'));
    const span = match.lastEventTs - match.windowStart;
    const kinds = [...new Set(flows.map((event) => str(event, 'kind')))].join('/');
    const lean = bullish > 2 * bearish ? 'bullish' : bearish > 2 * bullish ? 'bearish' : 'mixed';
    return {
      message: `${match.key}: ${flows.length} ${kinds} flows in ${seconds(span)}, $${Math.round(total).toLocaleString('en-US')} premium, ${lean}`,
      attributes: {
        flows: flows.length,
        totalPremium: Math.round(total * 100) / 100,
        bullishPremium: Math.round(bullish * 100) / 100,
        bearishPremium: Math.round(bearish * 100) / 100,
        contracts: flows.reduce((sum, event) => sum + num(event, 'size'), 0),
        calls: flows.filter((event) => str(event, 'right') === 'call').length,
        puts: flows.filter((event) => str(event, 'right') === 'put').length,
        lean,
        spanSeconds: span / 1e9,
      },
    };
  },
};
