import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { optionTermsErrors } from '../../option-contract';
import { crossedQuoteErrors, eventTimeErrors } from '../../semantic-checks';

export const name = 'OptionQuote';
export const version = 1;

export const schema = Type.Object(
  {
    symbol: Field.optionSymbol(),
    underlying: Field.ticker('Ticker of the underlying, e.g. "AAPL" (for SPXW options: "SPX").'),
    expiration: Field.date('Expiration date, YYYY-MM-DD; must agree with the symbol.'),
    strike: Field.positivePrice('Strike price; must agree with the symbol.'),
    right: Field.right('Option right; must agree with the symbol.'),
    bidPrice: Field.price('Best bid premium per share; 0 when there is no bid.'),
    bidSize: Field.size('Contracts at the best bid; 0 when there is no bid.'),
    askPrice: Field.price('Best ask premium per share; 0 when there is no ask.'),
    askSize: Field.size('Contracts at the best ask; 0 when there is no ask.'),
    bidExchange: Field.exchange('OPRA participant code of the best bid.'),
    askExchange: Field.exchange('OPRA participant code of the best ask.'),
    ts: Field.eventTime('OPRA timestamp of the quote, epoch nanoseconds UTC as a decimal string.'),
    conditions: Type.Optional(Field.conditions('Quote condition codes as sent by the feed.')),
  },
  {
    $id: schemaId(name, version),
    title: 'Option quote',
    description:
      'National best bid and offer of one option contract. Topic options.quotes, keyed by the underlying symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors = optionTermsErrors(value);
  eventTimeErrors(value.ts, '/ts', context, errors);
  crossedQuoteErrors(value, '', errors);
  return errors;
}
