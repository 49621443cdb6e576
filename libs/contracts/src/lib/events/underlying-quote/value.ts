import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { crossedQuoteErrors, eventTimeErrors } from '../../semantic-checks';

export const name = 'UnderlyingQuote';
export const version = 1;

export const schema = Type.Object(
  {
    symbol: Field.ticker('Ticker of the stock, ETF or index, e.g. "AAPL".'),
    bidPrice: Field.price('Best bid price in the quote currency (USD); 0 when there is no bid.'),
    bidSize: Field.size('Shares at the best bid; 0 when there is no bid.'),
    askPrice: Field.price('Best ask price in the quote currency (USD); 0 when there is no ask.'),
    askSize: Field.size('Shares at the best ask; 0 when there is no ask.'),
    bidExchange: Field.exchange('Exchange code of the best bid.'),
    askExchange: Field.exchange('Exchange code of the best ask.'),
    ts: Field.eventTime('Exchange (SIP) timestamp of the quote, epoch nanoseconds UTC as a decimal string.'),
    conditions: Type.Optional(Field.conditions('Quote condition codes as sent by the feed.')),
    tape: Type.Optional(
      Field.oneOf(
        ['A', 'B', 'C'] as const,
        'Consolidated tape: A (NYSE), B (NYSE Arca, regional), C (Nasdaq).',
      ),
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Underlying quote',
    description:
      'National best bid and offer (NBBO) update of a stock, ETF or index. Topic market.quotes, keyed by symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  eventTimeErrors(value.ts, '/ts', context, errors);
  crossedQuoteErrors(value, '', errors);
  return errors;
}
