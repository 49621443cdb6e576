import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { optionTermsErrors } from '../../option-contract';
import { crossedQuoteErrors, eventTimeErrors } from '../../semantic-checks';
import { schema as optionQuote } from '../option-quote/value';

export const name = 'EnrichedOptionQuote';
export const version = 1;

const nullableNumber = (description: string) => Field.nullable(Type.Number(), { description });

export const schema = Type.Object(
  {
    ...optionQuote.properties,
    mid: nullableNumber('Mid of bid and ask; null unless both sides are quoted (bid > 0 and ask > 0).'),
    spread: nullableNumber('Ask minus bid; null unless both sides are quoted.'),
    spreadPct: nullableNumber('Spread as a percentage of the mid; null unless both sides are quoted.'),
    underlyingPrice: nullableNumber(
      'Mid of the underlying NBBO in force at the event time of the option quote (the last market.quotes record of the underlying at or before ts); null when none is known.',
    ),
    underlyingTs: Field.nullable(Field.nanos('Event time of the underlying quote used, epoch nanoseconds UTC.'), {
      description: 'Event time of the underlying quote used; null when none is known.',
    }),
    moneyness: nullableNumber('Underlying price divided by strike (S/K); null without an underlying price.'),
    logMoneyness: nullableNumber('ln(S/K); null without an underlying price.'),
    intrinsic: nullableNumber('Intrinsic value per share: max(S-K, 0) for calls, max(K-S, 0) for puts; null without an underlying price.'),
    yearsToExpiry: nullableNumber(
      'Time from the event time to expiry (16:00 New York on the expiration date) in years of 365 days; 0 at or after expiry; null for an invalid date.',
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Enriched option quote',
    description:
      'An option quote joined in event time with the underlying price in force when it was quoted, plus mid, spread, moneyness and time to expiry. Topic options.quotes.enriched, keyed by underlying.',
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
