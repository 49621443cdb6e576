import { Type, type Static } from '@sinclair/typebox';
import { compareNanos } from '../../event-time';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { eventTimeErrors } from '../../semantic-checks';

export const name = 'FeatureVector';
export const version = 1;

export const schema = Type.Object(
  {
    symbol: Field.ticker('Ticker the features describe.'),
    featureSet: Field.machineName('Name of the feature set, e.g. "intraday_momentum".'),
    version: Type.Integer({
      minimum: 1,
      description: 'Version of the feature set definition (not of this schema); models pin it.',
    }),
    values: Type.Record(Type.String({ pattern: '^[a-z][a-z0-9_]*$' }), Type.Number(), {
      additionalProperties: false,
      description: 'Feature name -> value, e.g. {"return_5m": 0.0012, "iv_rank": 0.43}.',
    }),
    windowStart: Type.Optional(
      Field.nanos('Start of the input window the features were computed over, epoch nanoseconds UTC.'),
    ),
    ts: Field.eventTime(
      'Event time the features are as of (the end of the input window), epoch nanoseconds UTC as a decimal string.',
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Feature vector',
    description: 'Model input features of one symbol at one event time. Topic ml.features, keyed by symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  eventTimeErrors(value.ts, '/ts', context, errors);
  if (value.windowStart !== undefined && compareNanos(value.windowStart, value.ts) > 0) {
    errors.push({ path: '/windowStart', message: 'is after ts (the window end)' });
  }
  return errors;
}
