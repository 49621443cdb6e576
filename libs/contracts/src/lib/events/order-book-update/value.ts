import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { eventTimeErrors } from '../../semantic-checks';

export const name = 'OrderBookUpdate';
export const version = 1;

const level = Type.Tuple([Type.Number({ minimum: 0 }), Type.Number({ minimum: 0 })], {
  description: '[price, size]; in an incremental update size 0 removes the level.',
});

export const schema = Type.Object(
  {
    symbol: Field.ticker('Ticker of the instrument, e.g. "AAPL".'),
    exchange: Type.Optional(Field.exchange('Venue of the book; absent for a consolidated book.')),
    bids: Type.Array(level, { maxItems: 1000, description: 'Bid levels, best (highest price) first.' }),
    asks: Type.Array(level, { maxItems: 1000, description: 'Ask levels, best (lowest price) first.' }),
    depth: Type.Integer({
      minimum: 1,
      maximum: 1000,
      description: 'Number of levels per side the book is maintained to.',
    }),
    snapshot: Type.Boolean({
      description: 'true: the full book to `depth` (replaces any state); false: only the changed levels.',
    }),
    sequence: Field.uint64(
      'Feed sequence number of this update, a decimal string (may exceed 2^53); gaps mean lost updates and call for a new snapshot.',
    ),
    ts: Field.eventTime('Exchange timestamp of the update, epoch nanoseconds UTC as a decimal string.'),
  },
  {
    $id: schemaId(name, version),
    title: 'Order book update',
    description:
      'Level-2 order book snapshot or incremental update. Topic market.orderbook, keyed by symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

function sideErrors(
  levels: Value['bids'],
  side: 'bids' | 'asks',
  depth: number,
  snapshot: boolean,
  errors: FieldError[],
): void {
  if (snapshot && levels.length > depth) {
    errors.push({ path: `/${side}`, message: `${levels.length} levels exceed the book depth ${depth}` });
  }
  for (let i = 1; i < levels.length; i++) {
    const ordered = side === 'bids' ? levels[i][0] < levels[i - 1][0] : levels[i][0] > levels[i - 1][0];
    if (!ordered) {
      const order = side === 'bids' ? 'descending' : 'ascending';
      errors.push({
        path: `/${side}/${i}/0`,
        message: `${side} must be in strictly ${order} price order: ${levels[i][0]} after ${levels[i - 1][0]}`,
      });
      return;
    }
  }
}

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  eventTimeErrors(value.ts, '/ts', context, errors);
  sideErrors(value.bids, 'bids', value.depth, value.snapshot, errors);
  sideErrors(value.asks, 'asks', value.depth, value.snapshot, errors);
  if (
    value.snapshot &&
    value.bids.length > 0 &&
    value.asks.length > 0 &&
    value.asks[0][0] < value.bids[0][0]
  ) {
    errors.push({
      path: '/asks/0/0',
      message: `crossed book: best ask ${value.asks[0][0]} is below best bid ${value.bids[0][0]}`,
    });
  }
  return errors;
}
