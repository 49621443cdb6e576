import { Type, type Static } from '@sinclair/typebox';
import { compareNanos } from '../../event-time';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { eventTimeErrors } from '../../semantic-checks';

export const name = 'Candle';
export const version = 1;

/** Window lengths there are candle topics for. */
export const INTERVALS = ['1s', '10s', '1m'] as const;
export type CandleInterval = (typeof INTERVALS)[number];
export const INTERVAL_NANOS: Readonly<Record<CandleInterval, bigint>> = {
  '1s': 1_000_000_000n,
  '10s': 10_000_000_000n,
  '1m': 60_000_000_000n,
};

/** vwap is a quotient of sums and may land a rounding error outside [low, high]. */
const VWAP_TOLERANCE = 1e-9;

export const schema = Type.Object(
  {
    symbol: Field.ticker('Ticker the trades were in.'),
    interval: Field.oneOf(
      INTERVALS,
      'Window length; matches the topic (candles.1s, candles.10s, candles.1m).',
    ),
    windowStart: Field.nanos(
      'Start of the event-time window, inclusive, epoch nanoseconds UTC; aligned to the interval.',
    ),
    windowEnd: Field.nanos(
      'End of the event-time window, exclusive, epoch nanoseconds UTC: windowStart + interval.',
    ),
    open: Field.positivePrice('Price of the first trade in the window (by event time).'),
    high: Field.positivePrice('Highest trade price in the window.'),
    low: Field.positivePrice('Lowest trade price in the window.'),
    close: Field.positivePrice('Price of the last trade in the window (by event time).'),
    volume: Field.size('Shares traded in the window.'),
    vwap: Field.positivePrice('Volume-weighted average price of the window.'),
    trades: Type.Integer({ minimum: 1, description: 'Number of trades in the window.' }),
    revision: Type.Integer({
      minimum: 0,
      description:
        '0 for the candle emitted when the watermark passes windowEnd; +1 for each re-emission after late trades within the allowed lateness. Compaction keeps the highest.',
    }),
    final: Type.Optional(
      Type.Boolean({
        description: 'true once the allowed lateness has passed: no further revision will follow.',
      }),
    ),
    ts: Field.eventTime('Event time of the candle: equal to windowEnd.'),
  },
  {
    $id: schemaId(name, version),
    title: 'Candle',
    description:
      'OHLCV bar of the trades of one symbol in one event-time window. Topics candles.1s, candles.10s and candles.1m, keyed by symbol|windowStart and compacted, so the latest revision of each window survives.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  eventTimeErrors(value.ts, '/ts', context, errors);
  const length = INTERVAL_NANOS[value.interval];
  const start = BigInt(value.windowStart);
  if (start % length !== 0n) {
    errors.push({
      path: '/windowStart',
      message: `${value.windowStart} is not aligned to the ${value.interval} interval`,
    });
  }
  if (BigInt(value.windowEnd) !== start + length) {
    errors.push({
      path: '/windowEnd',
      message: `must be windowStart + ${value.interval} (${(start + length).toString()})`,
    });
  }
  if (compareNanos(value.ts, value.windowEnd) !== 0) {
    errors.push({ path: '/ts', message: 'must equal windowEnd' });
  }
  if (value.low > value.high)
    errors.push({ path: '/low', message: `low ${value.low} is above high ${value.high}` });
  for (const field of ['open', 'close'] as const) {
    if (value[field] < value.low || value[field] > value.high) {
      errors.push({
        path: `/${field}`,
        message: `${value[field]} is outside [low ${value.low}, high ${value.high}]`,
      });
    }
  }
  const slack = value.high * VWAP_TOLERANCE;
  if (value.vwap < value.low - slack || value.vwap > value.high + slack) {
    errors.push({
      path: '/vwap',
      message: `${value.vwap} is outside [low ${value.low}, high ${value.high}]`,
    });
  }
  return errors;
}
