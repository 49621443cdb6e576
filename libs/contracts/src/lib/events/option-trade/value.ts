import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { optionTermsErrors } from '../../option-contract';
import { eventTimeErrors } from '../../semantic-checks';

export const name = 'OptionTrade';
export const version = 1;

export const schema = Type.Object(
  {
    symbol: Field.optionSymbol(),
    underlying: Field.ticker('Ticker of the underlying, e.g. "AAPL" (for SPXW options: "SPX").'),
    expiration: Field.date('Expiration date, YYYY-MM-DD; must agree with the symbol.'),
    strike: Field.positivePrice('Strike price; must agree with the symbol.'),
    right: Field.right('Option right; must agree with the symbol.'),
    price: Field.positivePrice('Trade premium per share.'),
    size: Field.positiveSize('Contracts traded.'),
    exchange: Field.exchange('OPRA participant code where the trade printed.'),
    conditions: Field.conditions(
      'OPRA trade condition codes (e.g. "I" intermarket sweep); empty for a regular trade.',
    ),
    ts: Field.eventTime('OPRA timestamp of the trade, epoch nanoseconds UTC as a decimal string.'),
    tradeId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: 'Trade identifier from the feed, when it provides one.',
      }),
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Option trade',
    description:
      'A trade print of one option contract. Topic options.trades, keyed by the underlying symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors = optionTermsErrors(value);
  eventTimeErrors(value.ts, '/ts', context, errors);
  return errors;
}
