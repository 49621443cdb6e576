/**
 * LIQUIDITY_DRAIN: the book thins out quote after quote: a run of consecutive quotes, each with less
 * displayed size (bid + ask) and a spread at least as wide as the one before (or the same size and a
 * wider spread), until size has fallen by minDepthDropPct and the spread widened minSpreadWidening
 * times against the quote before the run, within windowMs.
 */
import { AfterMatchSkip, Pattern } from '../../pattern';
import { eventTimeParams, matchedEvents, num, NS_PER_MS, round, seconds, symbolKey, type BuiltinPattern } from '../builtin';
import type { CepEvent } from '../rule';

interface Params {
  minQuotes: number;
  minDepthDropPct: number;
  minSpreadWidening: number;
  windowMs: number;
}

const QUOTES = 'market.quotes';

export const LIQUIDITY_DRAIN: BuiltinPattern = {
  name: 'LIQUIDITY_DRAIN',
  description:
    'At least minQuotes consecutive quotes of a symbol (market.quotes), each thinner than the one before (less bid + ask size with a spread at least as wide, or the same size with a wider spread), ending with size down at least minDepthDropPct and the spread at least minSpreadWidening times as wide as in the quote before the run, all within windowMs. One alert per run.',
  severity: 'warning',
  keyDescription: 'symbol',
  params: {
    minQuotes: { type: 'integer', default: 4, min: 2, max: 1_000, description: 'Consecutive thinning quotes needed' },
    minDepthDropPct: { type: 'number', default: 50, min: 1, max: 100, unit: '%', description: 'Smallest fall of bid + ask size against the quote before the run' },
    minSpreadWidening: { type: 'number', default: 2, min: 1, max: 1_000, description: 'Smallest ratio of the spread to the spread before the run' },
    windowMs: { type: 'integer', default: 10_000, min: 10, max: 3_600_000, unit: 'ms', description: 'Span the run must fit in' },
    ...eventTimeParams({ outOfOrdernessMs: 500, idleKeyTtlMs: 600_000 }),
  },
  inputs: () => [QUOTES],
  plan(params) {
    const p = params as unknown as Params;
    const keep = 1 - p.minDepthDropPct / 100;
    return {
      keyBy: symbolKey,
      state: [
        {
          // The previous quote ('depth', 'spread'), the current run's length ('run') and the quote before it ('fromDepth', 'fromSpread').
          name: 'book',
          update(event, table) {
            if (event.topic !== QUOTES) return;
            const bid = num(event, 'bidPrice');
            const ask = num(event, 'askPrice');
            const depth = num(event, 'bidSize') + num(event, 'askSize');
            if (!(bid > 0 && ask >= bid)) {
              // One-sided or crossed: no spread to compare; the run ends here.
              table.clear();
              return;
            }
            const spread = ask - bid;
            const prevDepth = table.get('depth') as number | undefined;
            const prevSpread = table.get('spread') as number | undefined;
            const thinner =
              prevDepth !== undefined && prevSpread !== undefined && ((depth < prevDepth && spread >= prevSpread) || (depth <= prevDepth && spread > prevSpread));
            const run = thinner ? ((table.get('run') as number | undefined) ?? 0) + 1 : 0;
            if (run === 1) {
              table.set('fromDepth', prevDepth);
              table.set('fromSpread', prevSpread);
            }
            table.set('run', run);
            table.set('depth', depth);
            table.set('spread', spread);
          },
        },
      ],
      // The first thinning quote starts the run (only the first: one partial match per run), every next
      // quote must thin it further (strict contiguity), and the run completes at a quote past both thresholds.
      pattern: Pattern.begin<CepEvent>('thinning', AfterMatchSkip.skipPastLastEvent())
        .where((event, ctx) => {
          if (event.topic !== QUOTES) return false;
          const run = ctx.state('book').get('run') as number | undefined;
          return ctx.last('thinning') === undefined ? run === 1 : (run ?? 0) > 1;
        })
        .oneOrMore()
        .consecutive()
        .next('drained')
        .where((event, ctx) => {
          if (event.topic !== QUOTES) return false;
          const book = ctx.state('book');
          const run = (book.get('run') as number | undefined) ?? 0;
          return (
            run >= p.minQuotes &&
            (book.get('depth') as number) <= keep * (book.get('fromDepth') as number) &&
            (book.get('spread') as number) >= p.minSpreadWidening * (book.get('fromSpread') as number)
          );
        })
        .within(p.windowMs * NS_PER_MS),
      capture: (_match, scope) => {
        const book = scope.state('book');
        return {
          fromDepth: (book.get('fromDepth') as number) ?? null,
          fromSpread: (book.get('fromSpread') as number) ?? null,
          depth: (book.get('depth') as number) ?? null,
          spread: (book.get('spread') as number) ?? null,
        };
      },
    };
  },
  describe(match) {
    const m = match.captured ?? {};
    const depth = Number(m['depth']);
    const fromDepth = Number(m['fromDepth']);
    const spread = Number(m['spread']);
    const fromSpread = Number(m['fromSpread']);
    const quotes = matchedEvents(match).length;
    const dropPct = (1 - depth / fromDepth) * 100;
    const widening = spread / fromSpread;
    return {
      message: `${match.key} liquidity draining: size ${fromDepth} -> ${depth} (-${dropPct.toFixed(0)}%), spread ${round(fromSpread)} -> ${round(spread)} (${widening.toFixed(1)}x) over ${quotes} quotes in ${seconds(match.lastEventTs - match.windowStart)}`,
      attributes: {
        depthDropPct: round(dropPct, 2),
        spreadWidening: round(widening, 3),
        quotes,
        depth,
        previousDepth: fromDepth,
        spread: round(spread, 6),
        previousSpread: round(fromSpread, 6),
      },
    };
  },
};
