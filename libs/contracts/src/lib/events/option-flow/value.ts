import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { optionTermsErrors } from '../../option-contract';
import { eventTimeErrors } from '../../semantic-checks';

export const name = 'OptionFlow';
export const version = 1;

const leg = Type.Object(
  {
    symbol: Field.optionSymbol(),
    side: Field.oneOf(['buy', 'sell'] as const, "Side of this leg from the initiator's point of view."),
    ratio: Type.Integer({ minimum: 1, description: 'Contracts of this leg per unit of the spread.' }),
  },
  { description: 'One leg of a multi-leg (spread) order.', additionalProperties: false },
);

export const schema = Type.Object(
  {
    symbol: Field.optionSymbol('OCC symbol of the contract (of the first leg for a multi-leg order).'),
    underlying: Field.ticker('Ticker of the underlying, e.g. "AAPL".'),
    expiration: Field.date('Expiration date, YYYY-MM-DD; must agree with the symbol.'),
    strike: Field.positivePrice('Strike price; must agree with the symbol.'),
    right: Field.right('Option right; must agree with the symbol.'),
    kind: Field.oneOf(
      ['sweep', 'block', 'split', 'unusual_volume'] as const,
      'sweep: one order filled across exchanges within milliseconds; block: one large print; split: one order filled in several prints on one exchange; unusual_volume: session volume far above its average or open interest.',
    ),
    side: Field.oneOf(
      ['buy', 'sell', 'mid', 'unknown'] as const,
      'Aggressor inferred from the prices against the quote: at/above ask = buy, at/below bid = sell, between = mid.',
    ),
    premium: Field.price('Total premium paid: price x size x 100 (the contract multiplier), in USD.'),
    size: Field.positiveSize('Contracts in the flow.'),
    price: Field.positivePrice('Volume-weighted premium per share of the prints in the flow.'),
    exchanges: Type.Array(Field.exchange('OPRA participant code.'), {
      minItems: 1,
      maxItems: 32,
      description: 'Exchanges the prints hit, in fill order.',
    }),
    legs: Type.Optional(
      Type.Array(leg, {
        minItems: 2,
        maxItems: 8,
        description: 'Legs of a multi-leg order; absent for a single-leg flow.',
      }),
    ),
    volumeToOpenInterest: Type.Optional(
      Type.Number({ minimum: 0, description: 'Session volume divided by open interest at detection time.' }),
    ),
    underlyingPrice: Type.Optional(Field.positivePrice('Underlying price at detection time.')),
    ts: Field.eventTime(
      'Event time of the last print of the flow, epoch nanoseconds UTC as a decimal string.',
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Option flow',
    description:
      'Unusual options activity (sweeps, blocks, splits, volume spikes) detected from the trade stream. Topic options.flow, keyed by the underlying symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors = optionTermsErrors(value);
  eventTimeErrors(value.ts, '/ts', context, errors);
  return errors;
}
