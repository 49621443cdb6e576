import { Type, type Static } from '@sinclair/typebox';
import { Field, schemaId } from '../../field-types';
import { eventTimeInvariants } from '../../semantic-checks';
import { INTERVALS } from '../candle/value';

export const name = 'LateTrade';
export const version = 1;

const missedWindow = Type.Object(
  {
    interval: Field.oneOf(INTERVALS, 'Window length of the candle the trade missed.'),
    windowStart: Field.nanos('Start of the missed window, inclusive, epoch nanoseconds UTC.'),
    windowEnd: Field.nanos('End of the missed window, exclusive, epoch nanoseconds UTC.'),
  },
  { description: 'A candle window that was closed for good when the trade arrived.', additionalProperties: false },
);

export const schema = Type.Object(
  {
    symbol: Field.ticker('Ticker of the trade.'),
    price: Field.positivePrice('Trade price.'),
    size: Field.positiveSize('Shares traded.'),
    exchange: Field.exchange('Exchange code where the trade printed.'),
    tradeId: Type.String({ minLength: 1, maxLength: 64, description: 'Trade identifier of the feed.' }),
    ts: Field.eventTime('Event time of the trade, epoch nanoseconds UTC.'),
    missed: Type.Array(missedWindow, {
      minItems: 1,
      maxItems: 3,
      description:
        'The candle windows the trade is too late for; windows of longer intervals still open took the trade.',
    }),
    watermark: Field.nanos('Event-time watermark of the aggregator when the trade arrived.'),
    allowedLatenessMs: Type.Integer({
      minimum: 0,
      description: 'Allowed lateness of the aggregator: a window takes trades until watermark >= windowEnd + this.',
    }),
    reason: Field.text('Why the trade was not counted, for people.', 512),
    source: Type.Object(
      {
        topic: Type.String({ minLength: 1, maxLength: 249, description: 'Topic the trade was read from.' }),
        partition: Type.Integer({ minimum: 0, description: 'Partition the trade was read from.' }),
        offset: Field.uint64('Offset of the trade in its partition, a decimal string.'),
      },
      { description: 'Where the trade sits in Kafka, so it can be found and replayed.', additionalProperties: false },
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Late trade',
    description:
      'A trade that arrived after the allowed lateness of one or more of its candle windows, so those candles do not count it. Topic candles.late, keyed by symbol. The batch layer reconciles with these.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

/** Beyond the schema, only the event time is checked (it may be old: that is the point). */
export const invariants = eventTimeInvariants;
