import { Type, type Static } from '@sinclair/typebox';
import { Field, schemaId } from '../../field-types';
import { eventTimeInvariants } from '../../semantic-checks';

export const name = 'NewsSentiment';
export const version = 1;

export const schema = Type.Object(
  {
    articleId: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'Identifier of the article or post at its source; stable across re-scoring.',
    }),
    symbols: Type.Array(Field.ticker('Ticker the article is about.'), {
      minItems: 1,
      maxItems: 50,
      description: 'Tickers the article is about, primary subject first (the record key).',
    }),
    headline: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: 'Headline or first line of the text.',
    }),
    source: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Publisher or feed, e.g. "benzinga", "reuters", "x".',
    }),
    url: Type.Optional(
      Type.String({ pattern: '^https?://', maxLength: 2048, description: 'Link to the article.' }),
    ),
    sentiment: Type.Number({
      minimum: -1,
      maximum: 1,
      description: 'Sentiment score from -1 (most negative) to 1 (most positive).',
    }),
    confidence: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'Confidence of the scorer in [0, 1].' }),
    ),
    model: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'Scorer that produced the sentiment, e.g. "finbert-v2".',
      }),
    ),
    ts: Field.eventTime('Publication time of the article, epoch nanoseconds UTC as a decimal string.'),
  },
  {
    $id: schemaId(name, version),
    title: 'News sentiment',
    description:
      'Sentiment of a news article or social post. Topic news.sentiment, keyed by the primary symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

/** Beyond the schema, only the event time is checked. */
export const invariants = eventTimeInvariants;
