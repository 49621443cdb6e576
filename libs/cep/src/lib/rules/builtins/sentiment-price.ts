/**
 * SENTIMENT_PRICE: negative news followed by a price drop: a news.sentiment score below
 * maxSentiment for a symbol (its primary symbol), then, within windowMs, a price at least minDropPct
 * below the symbol's last price before the news.
 */
import { AfterMatchSkip, Pattern } from '../../pattern';
import { eventTimeParams, num, NS_PER_MS, round, seconds, str, symbolKey, type BuiltinPattern } from '../builtin';
import type { CepEvent } from '../rule';

interface Params {
  maxSentiment: number;
  minConfidence: number;
  minDropPct: number;
  windowMs: number;
  source: 'trades' | 'candles';
  maxReferenceAgeMs: number;
}

const NEWS = 'news.sentiment';

export const SENTIMENT_PRICE: BuiltinPattern = {
  name: 'SENTIMENT_PRICE',
  description:
    "A news.sentiment score below maxSentiment (with at least minConfidence when the scorer gives one) for a symbol, keyed by the article's primary symbol, followed within windowMs by a price (trade, or 1 s candle close) at least minDropPct below the symbol's last price before the news (no older than maxReferenceAgeMs). One alert per drop, however many negative articles preceded it.",
  severity: 'warning',
  keyDescription: 'symbol (the primary symbol of the article)',
  params: {
    maxSentiment: { type: 'number', default: -0.5, min: -1, max: 1, description: 'Scores below this are negative news' },
    minConfidence: { type: 'number', default: 0, min: 0, max: 1, description: "Smallest confidence of the scorer (articles without one count)" },
    minDropPct: { type: 'number', default: 2, min: 0.01, max: 100, unit: '%', description: 'Smallest fall from the price before the news' },
    windowMs: { type: 'integer', default: 1_800_000, min: 1_000, max: 86_400_000, unit: 'ms', description: 'Span after the news the drop must happen in' },
    source: { type: 'enum', values: ['trades', 'candles'], default: 'trades', description: 'Prices from market.trades or from candles.1s closes (first revision)' },
    maxReferenceAgeMs: { type: 'integer', default: 600_000, min: 1_000, max: 86_400_000, unit: 'ms', description: 'The last price before the news must be at most this old' },
    ...eventTimeParams({ outOfOrdernessMs: 2_000, idleKeyTtlMs: 3_600_000, allowedLatenessMs: 0 }),
  },
  inputs: (params) => [NEWS, (params as unknown as Params).source === 'trades' ? 'market.trades' : 'candles.1s'],
  plan(params) {
    const p = params as unknown as Params;
    const priceTopic = p.source === 'trades' ? 'market.trades' : 'candles.1s';
    const priceField = p.source === 'trades' ? 'price' : 'close';
    const keep = 1 - p.minDropPct / 100;
    const windowNs = p.windowMs * NS_PER_MS;
    const negative = (event: CepEvent): boolean => {
      if (event.topic !== NEWS || !(num(event, 'sentiment') < p.maxSentiment)) return false;
      const confidence = event.value['confidence'];
      return typeof confidence !== 'number' || confidence >= p.minConfidence;
    };
    return {
      keyBy: symbolKey,
      filter: p.source === 'candles' ? (event) => event.topic !== priceTopic || event.value['revision'] === 0 : undefined,
      state: [
        {
          // The last price ('price', 'ts') and the reference price of each recent negative article
          // ('article|<id>' -> [price, ts]), dropped once its window has passed.
          name: 'prices',
          update(event, table, scope) {
            if (event.topic === priceTopic) {
              table.set('price', num(event, priceField));
              table.set('ts', scope.ts);
              return;
            }
            if (!negative(event)) return;
            for (const [entry, value] of table) {
              if (entry.startsWith('article|') && (value as [number, number])[1] + windowNs <= scope.ts) table.delete(entry);
            }
            const at = table.get('ts') as number | undefined;
            if (at !== undefined && scope.ts - at <= p.maxReferenceAgeMs * NS_PER_MS) {
              table.set(`article|${str(event, 'articleId')}`, [table.get('price') as number, scope.ts]);
            }
          },
        },
      ],
      pattern: Pattern.begin<CepEvent>('news', AfterMatchSkip.skipPastLastEvent())
        .where((event, ctx) => negative(event) && ctx.state('prices').has(`article|${str(event, 'articleId')}`))
        .followedBy('drop')
        .where((event, ctx) => {
          if (event.topic !== priceTopic) return false;
          const reference = ctx.state('prices').get(`article|${str(ctx.first('news') as CepEvent, 'articleId')}`) as [number, number] | undefined;
          return reference !== undefined && num(event, priceField) <= keep * reference[0];
        })
        .within(windowNs),
      capture: (match, scope) => {
        const news = match.events['news'][0].event;
        const reference = scope.state('prices').get(`article|${str(news, 'articleId')}`) as [number, number] | undefined;
        return { referencePrice: reference ? reference[0] : null };
      },
    };
  },
  describe(match, params) {
    const p = params as unknown as Params;
    const news = match.events['news'][0];
    const drop = match.events['drop'][0];
    const reference = Number(match.captured?.['referencePrice']);
    const price = num(drop.event, p.source === 'trades' ? 'price' : 'close');
    const dropPct = (1 - price / reference) * 100;
    const after = drop.ts - news.ts;
    return {
      message: `${match.key} down ${dropPct.toFixed(2)}% (${reference} -> ${price}) ${seconds(after)} after negative news (sentiment ${num(news.event, 'sentiment')}): ${str(news.event, 'headline')}`.slice(0, 1024),
      attributes: {
        dropPct: round(dropPct),
        referencePrice: reference,
        price,
        sentiment: num(news.event, 'sentiment'),
        articleId: str(news.event, 'articleId'),
        source: str(news.event, 'source'),
        secondsAfterNews: after / 1e9,
      },
    };
  },
};
