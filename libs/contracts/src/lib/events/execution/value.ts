import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, INSTRUMENT_PATTERN, OCC_SYMBOL_PATTERN, schemaId } from '../../field-types';
import { eventTimeErrors } from '../../semantic-checks';

export const name = 'Execution';
export const version = 1;

export const schema = Type.Object(
  {
    executionId: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Unique identifier of this fill (FIX ExecID); consumers drop duplicates by it.',
    }),
    orderId: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Identifier of the order this fill belongs to.',
    }),
    account: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Trading account the order was placed for.',
    }),
    symbol: Type.String({
      pattern: INSTRUMENT_PATTERN,
      description: 'Ticker of a stock/ETF, or OCC symbol of an option contract.',
    }),
    underlying: Type.Optional(Field.ticker('Ticker of the underlying when the instrument is an option.')),
    side: Field.oneOf(['buy', 'sell', 'sell_short'] as const, 'Side of the order.'),
    quantity: Type.Number({ exclusiveMinimum: 0, description: 'Shares or contracts filled.' }),
    price: Field.positivePrice('Fill price (premium per share for options).'),
    venue: Type.String({
      minLength: 1,
      maxLength: 16,
      description: "Venue the fill happened on: an exchange code or MIC, or the broker's venue name.",
    }),
    liquidity: Type.Optional(
      Field.oneOf(['add', 'remove'] as const, 'Whether the fill added (maker) or removed (taker) liquidity.'),
    ),
    fee: Type.Optional(
      Type.Number({ description: 'Fees charged for the fill in USD; negative for a rebate.' }),
    ),
    ts: Field.eventTime('Venue timestamp of the fill, epoch nanoseconds UTC as a decimal string.'),
  },
  {
    $id: schemaId(name, version),
    title: 'Execution',
    description:
      'A fill of one of our orders. Topic trading.executions, keyed by the underlying (or the symbol for a stock).',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

const OCC_SYMBOL = new RegExp(OCC_SYMBOL_PATTERN);

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  eventTimeErrors(value.ts, '/ts', context, errors);
  const isOption = OCC_SYMBOL.test(value.symbol);
  if (isOption && value.underlying === undefined) {
    errors.push({ path: '/underlying', message: 'required when the symbol is an option contract' });
  }
  return errors;
}
