import { Type, type Static } from '@sinclair/typebox';
import { Field, schemaId } from '../../field-types';
import { eventTimeInvariants } from '../../semantic-checks';

export const name = 'Prediction';
export const version = 1;

export const schema = Type.Object(
  {
    symbol: Field.ticker('Ticker the prediction is about.'),
    model: Field.machineName('Model name, e.g. "gbm_return_5m".'),
    modelVersion: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Version of the trained model (registry version or artifact hash).',
    }),
    target: Type.Optional(
      Field.machineName('What is predicted, e.g. "return", "direction", "realized_vol".'),
    ),
    horizon: Field.duration('How far ahead of ts the prediction looks, e.g. "5m".'),
    prediction: Type.Number({
      description: 'Predicted value of the target (a return as a decimal, a probability, a volatility).',
    }),
    confidence: Type.Optional(
      Type.Number({ minimum: 0, maximum: 1, description: 'Model confidence in [0, 1].' }),
    ),
    features: Type.Optional(
      Type.Object(
        {
          featureSet: Field.machineName('Feature set the input came from.'),
          version: Type.Integer({ minimum: 1, description: 'Version of the feature set.' }),
          ts: Field.nanos('Event time of the feature vector used, epoch nanoseconds UTC.'),
        },
        {
          description: 'The ml.features record the prediction was made from, for lineage.',
          additionalProperties: false,
        },
      ),
    ),
    ts: Field.eventTime(
      'Event time the prediction is made as of (that of its inputs), epoch nanoseconds UTC as a decimal string.',
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Prediction',
    description: 'A model prediction for one symbol. Topic ml.predictions, keyed by symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

/** Beyond the schema, only the event time is checked. */
export const invariants = eventTimeInvariants;
