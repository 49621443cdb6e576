import { Type, type Static } from '@sinclair/typebox';
import { Field, schemaId } from '../../field-types';
import { eventTimeInvariants } from '../../semantic-checks';

export const name = 'TechnicalSignal';
export const version = 1;

export const schema = Type.Object(
  {
    symbol: Field.ticker('Ticker the indicator was computed on.'),
    indicator: Field.machineName(
      'Indicator and its main parameter, snake_case: "rsi_14", "macd", "bollinger", "sma_50", "vwap".',
    ),
    value: Type.Number({
      description: 'Main value of the indicator (the MACD line, the middle Bollinger band, the RSI).',
    }),
    components: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), Type.Number(), {
        additionalProperties: false,
        description:
          'Further outputs of multi-line indicators, e.g. {"signal": 1.2, "histogram": 0.3} for MACD, {"upper": ..., "lower": ...} for Bollinger.',
      }),
    ),
    params: Type.Record(
      Type.String({ pattern: '^[a-z][a-z0-9_]*$' }),
      Type.Union([Type.Number(), Type.String(), Type.Boolean()]),
      {
        additionalProperties: false,
        description:
          'Parameters the indicator was computed with, e.g. {"period": 14} or {"fast": 12, "slow": 26, "signal": 9}.',
      },
    ),
    interval: Type.Optional(Field.duration('Bar interval the indicator runs on, e.g. "1m".')),
    direction: Type.Optional(
      Field.oneOf(
        ['bullish', 'bearish', 'neutral'] as const,
        'Direction the signal points to, when the indicator implies one.',
      ),
    ),
    ts: Field.eventTime(
      'Event time of the last input the value reflects (the bar end), epoch nanoseconds UTC as a decimal string.',
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Technical signal',
    description: 'A technical indicator value or crossing. Topic signals.technical, keyed by symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

/** Beyond the schema, only the event time is checked. */
export const invariants = eventTimeInvariants;
