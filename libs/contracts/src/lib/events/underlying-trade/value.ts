import { Type, type Static } from '@sinclair/typebox';
import { Field, schemaId } from '../../field-types';
import { eventTimeInvariants } from '../../semantic-checks';

export const name = 'UnderlyingTrade';
export const version = 1;

export const schema = Type.Object(
  {
    symbol: Field.ticker('Ticker of the stock or ETF, e.g. "AAPL".'),
    price: Field.positivePrice('Trade price in the quote currency (USD).'),
    size: Field.positiveSize('Shares traded.'),
    exchange: Field.exchange('Exchange code where the trade printed.'),
    tradeId: Type.String({
      minLength: 1,
      maxLength: 64,
      description:
        'Trade identifier assigned by the exchange or feed; unique per symbol and exchange within a day.',
    }),
    conditions: Field.conditions(
      'Trade condition codes as sent by the feed (e.g. "@", "F", "I"); empty for a regular trade.',
    ),
    ts: Field.eventTime('Exchange (SIP) timestamp of the trade, epoch nanoseconds UTC as a decimal string.'),
    tape: Type.Optional(
      Field.oneOf(
        ['A', 'B', 'C'] as const,
        'Consolidated tape: A (NYSE), B (NYSE Arca, regional), C (Nasdaq).',
      ),
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Underlying trade',
    description: 'A trade print of a stock or ETF. Topic market.trades, keyed by symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

/** Beyond the schema, only the event time is checked. */
export const invariants = eventTimeInvariants;
