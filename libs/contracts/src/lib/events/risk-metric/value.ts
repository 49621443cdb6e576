import { Type, type Static } from '@sinclair/typebox';
import { Field, INSTRUMENT_PATTERN, schemaId } from '../../field-types';
import { eventTimeInvariants } from '../../semantic-checks';

export const name = 'RiskMetric';
export const version = 1;

export const schema = Type.Object(
  {
    account: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Account (or portfolio) the metric is measured for.',
    }),
    portfolio: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description:
          'Sub-portfolio or strategy within the account, when the metric is narrower than the account.',
      }),
    ),
    metric: Field.machineName(
      'What is measured, snake_case, e.g. "var_95", "var_99", "delta_exposure", "gamma_exposure", "vega_exposure", "gross_exposure", "net_exposure", "margin_used".',
    ),
    value: Type.Number({
      description: 'Measured value, in USD for exposures and VaR, as a decimal for ratios.',
    }),
    limit: Type.Optional(
      Type.Number({
        description: 'The limit that applies to the metric; a breach is value beyond it in absolute terms.',
      }),
    ),
    symbol: Type.Optional(
      Type.String({
        pattern: INSTRUMENT_PATTERN,
        description: 'Instrument or underlying the metric is restricted to; absent for the whole account.',
      }),
    ),
    currency: Type.Optional(
      Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency of the value; USD when absent.' }),
    ),
    ts: Field.eventTime(
      'Event time of the positions and market data the metric reflects, epoch nanoseconds UTC as a decimal string.',
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Risk metric',
    description: 'A risk measurement of an account or portfolio. Topic risk.metrics, keyed by account.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

/** Beyond the schema, only the event time is checked. */
export const invariants = eventTimeInvariants;
