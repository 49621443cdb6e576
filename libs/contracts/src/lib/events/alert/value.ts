import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { eventTimeErrors } from '../../semantic-checks';

export const name = 'Alert';
export const version = 1;

const contributingEvent = Type.Object(
  {
    topic: Type.String({ minLength: 1, maxLength: 249, description: 'Topic the event was read from.' }),
    partition: Type.Integer({ minimum: 0, description: 'Partition the event was read from.' }),
    offset: Field.uint64(
      'Offset of the event in its partition, a decimal string (Kafka offsets are 64-bit).',
    ),
    ts: Field.nanos('Event time of the event, epoch nanoseconds UTC.'),
  },
  {
    description: 'Where a contributing event sits in Kafka, so the match can be traced and replayed.',
    additionalProperties: false,
  },
);

export const schema = Type.Object(
  {
    alertId: Type.String({
      minLength: 1,
      maxLength: 128,
      description:
        'Stable identity of the match, derived from the rule, its version, the key and the contributing events; the same input replayed gives the same alertId, so consumers deduplicate by it.',
    }),
    rule: Field.machineName(
      'Pattern that matched, e.g. "momentum_surge", "volatility_spike", "option_sweep".',
    ),
    ruleVersion: Type.Integer({ minimum: 1, description: 'Version of the pattern definition that matched.' }),
    severity: Field.oneOf(['info', 'warning', 'critical'] as const, 'How urgently a person should look.'),
    key: Type.String({
      minLength: 1,
      maxLength: 256,
      description:
        'Key the pattern was evaluated per (usually the underlying symbol; the record key of the alert).',
    }),
    message: Type.String({ minLength: 1, maxLength: 1024, description: 'What happened, for a person.' }),
    ts: Field.eventTime(
      'Event time of the match: the event time of the event that completed the pattern, epoch nanoseconds UTC.',
    ),
    detectedAt: Field.nanos(
      'Processing time the engine emitted the match, epoch nanoseconds UTC; detectedAt - ts is the detection latency.',
    ),
    events: Type.Array(contributingEvent, {
      minItems: 1,
      maxItems: 1000,
      description: 'The events that made up the match, in match order.',
    }),
    attributes: Type.Record(
      Type.String({ minLength: 1, maxLength: 64 }),
      Field.nullable(Type.Union([Type.Number(), Type.String(), Type.Boolean()]), {}),
      {
        description: 'Measured values behind the match, e.g. {"priceChangePct": 2.4, "volumeRatio": 5.1}.',
      },
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Alert',
    description:
      'A complex-event-processing pattern match. Topic cep.alerts, keyed by the pattern key; written with Kafka transactions (read committed).',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;
export type ContributingEvent = Static<typeof contributingEvent>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  eventTimeErrors(value.ts, '/ts', context, errors);
  eventTimeErrors(value.detectedAt, '/detectedAt', context, errors);
  return errors;
}
