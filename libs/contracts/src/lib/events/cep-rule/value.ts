import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { eventTimeErrors } from '../../semantic-checks';

export const name = 'CepRule';
export const version = 1;

const nanosDuration = (description: string) => Type.Integer({ minimum: 0, description });

const ruleDocument = Type.Object(
  {
    inputs: Type.Array(Type.String({ minLength: 1, maxLength: 249, description: 'Catalog topic name.' }), {
      minItems: 1,
      maxItems: 32,
      description: 'Catalog topics the rule reads, e.g. ["market.trades", "news.sentiment"].',
    }),
    keyBy: Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'Field of the event value the rule is evaluated per, e.g. "symbol" (dotted paths allowed).',
    }),
    pattern: Type.Object(
      {
        stages: Type.Array(
          Type.Object(
            { name: Type.String({ minLength: 1, maxLength: 64, description: 'Stage name.' }) },
            { description: 'One stage of the pattern (see libs/cep README: contiguity, where, quantifiers).' },
          ),
          { minItems: 1, maxItems: 64, description: 'The stages in order.' },
        ),
        within: Type.Optional(Type.Integer({ minimum: 1, description: 'Window of the whole match, nanoseconds.' })),
        skip: Type.Optional(
          Type.Object(
            { kind: Type.String({ minLength: 1, maxLength: 64, description: 'After-match skip strategy.' }) },
            { description: 'After-match skip strategy, e.g. {"kind": "skipPastLastEvent"}.' },
          ),
        ),
      },
      { description: 'The pattern document (libs/cep JSON/YAML format).' },
    ),
    outOfOrdernessNs: Type.Optional(nanosDuration('Bounded out-of-orderness of the inputs, nanoseconds.')),
    allowedLatenessNs: Type.Optional(nanosDuration('Lateness still applied after the watermark, nanoseconds.')),
    aggregates: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64, description: 'Name conditions refer to.' }),
            windowNs: Type.Integer({ minimum: 1, description: 'Event-time window, nanoseconds.' }),
            field: Type.String({ minLength: 1, maxLength: 128, description: 'Field sampled into the window.' }),
            weightField: Type.Optional(
              Type.String({ minLength: 1, maxLength: 128, description: 'Weight field (VWAP), e.g. "size".' }),
            ),
          },
          { additionalProperties: false, description: 'A windowed aggregate per key.' },
        ),
        { maxItems: 32, description: 'Windowed aggregates conditions may read.' },
      ),
    ),
  },
  { additionalProperties: false, description: 'A pattern over catalog topics, as data.' },
);

export const schema = Type.Object(
  {
    id: Field.machineName('Rule id, e.g. "momentum_surge"; the record key.'),
    version: Type.Integer({ minimum: 1, description: 'Increases with every change; every alert names it.' }),
    enabled: Type.Boolean({ description: 'A disabled rule keeps its definition but runs nowhere.' }),
    severity: Field.oneOf(['info', 'warning', 'critical'] as const, 'Severity of the alerts it raises.'),
    description: Type.Optional(Field.text('What the rule detects, for a person.', 1024)),
    builtin: Type.Optional(
      Type.String({
        pattern: '^[A-Z][A-Z0-9_]*$',
        maxLength: 64,
        description: 'A built-in pattern by name, e.g. "MOMENTUM_SURGE" (exclusive with document).',
      }),
    ),
    params: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.Unknown(), {
        description: 'Parameters overriding the built-in pattern defaults.',
      }),
    ),
    document: Type.Optional(ruleDocument),
    ts: Field.eventTime('When this version of the rule was written, epoch nanoseconds UTC.'),
    updatedBy: Type.Optional(Field.text('Who or what wrote this version, e.g. "cep-engine/pod-1 POST /rules".')),
  },
  {
    $id: schemaId(name, version),
    title: 'CepRule',
    description:
      'A pattern rule of the CEP engine. Topic cep.rules (compacted), keyed by rule id; a tombstone removes the rule.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  if ((value.builtin === undefined) === (value.document === undefined)) {
    errors.push({ path: '/builtin', message: 'a rule names exactly one of builtin or document' });
  }
  if (value.params !== undefined && value.builtin === undefined) {
    errors.push({ path: '/params', message: 'params apply to a builtin rule only' });
  }
  eventTimeErrors(value.ts, '/ts', context, errors);
  return errors;
}
