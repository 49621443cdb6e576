import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { eventTimeErrors } from '../../semantic-checks';

export const name = 'CepSideOutput';
export const version = 1;

const recordRef = Type.Object(
  {
    topic: Type.String({ minLength: 1, maxLength: 249, description: 'Topic the event was read from.' }),
    partition: Type.Integer({ minimum: 0, description: 'Partition the event was read from.' }),
    offset: Field.uint64('Offset of the event in its partition, a decimal string.'),
    ts: Field.nanos('Event time of the event, epoch nanoseconds UTC.'),
  },
  { description: 'Where an event sits in Kafka.', additionalProperties: false },
);

export const schema = Type.Object(
  {
    kind: Field.oneOf(
      ['late-event', 'timed-out-match'] as const,
      'late-event: a record behind the watermark beyond the allowed lateness, not applied; timed-out-match: a partial match whose window closed before it completed.',
    ),
    rule: Field.machineName('Rule whose engine saw it.'),
    ruleVersion: Type.Integer({ minimum: 1, description: 'Version of that rule.' }),
    key: Type.String({ minLength: 1, maxLength: 256, description: 'Key the rule runs per (the record key).' }),
    ts: Field.eventTime(
      'Event time: of the late event, or the end of the window at which the partial match timed out.',
    ),
    watermark: Type.Union([Field.nanos('The engine watermark when it happened, epoch nanoseconds UTC.'), Type.Null()], {
      description: 'The engine watermark when it happened, epoch nanoseconds UTC (null before the first).',
    }),
    events: Type.Array(recordRef, {
      maxItems: 1000,
      description: 'The late event, or the events the partial match had taken, in match order.',
    }),
    stages: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
        maxItems: 64,
        description: 'For a timed-out match: the stages it had reached, in order.',
      }),
    ),
    windowStart: Type.Optional(Field.nanos('For a timed-out match: event time of its first event.')),
    detectedAt: Field.nanos('Processing time the engine emitted it, epoch nanoseconds UTC.'),
  },
  {
    $id: schemaId(name, version),
    title: 'CepSideOutput',
    description:
      'Side outputs of the CEP engine: late events and timed-out partial matches. Topic cep.side-outputs, written in the same Kafka transactions as the alerts.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;
export type RecordRef = Static<typeof recordRef>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  eventTimeErrors(value.ts, '/ts', context, errors);
  return errors;
}
