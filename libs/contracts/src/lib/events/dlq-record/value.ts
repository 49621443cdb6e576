import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';

export const name = 'DlqRecord';
export const version = 1;

export const schema = Type.Object(
  {
    originalTopic: Type.String({
      minLength: 1,
      maxLength: 249,
      description: 'Topic the record was consumed from.',
    }),
    partition: Type.Integer({ minimum: 0, description: 'Partition of the record in the original topic.' }),
    offset: Field.uint64('Offset of the record in the original partition, a decimal string.'),
    key: Field.nullable(Type.String(), {
      description: 'Record key as UTF-8; null when the record had none.',
    }),
    value: Field.nullable(Type.String(), {
      description: 'Original value bytes, decoded as `encoding` says; null for a tombstone.',
    }),
    encoding: Field.oneOf(
      ['utf8', 'base64'] as const,
      'How `value` holds the original bytes: utf8 when they are valid UTF-8, base64 otherwise.',
    ),
    headers: Type.Record(Type.String(), Type.String(), {
      description: 'All headers of the dead-lettered record (original and dlq.*), as UTF-8.',
    }),
    reason: Type.String({
      minLength: 1,
      description:
        'Why the record was rejected (the dlq.reason header): the error message or the validation errors.',
    }),
    errorType: Type.String({
      minLength: 1,
      description: 'Class of the error (dlq.error.type), e.g. "ValidationError", "HandlerError".',
    }),
    attempts: Type.Integer({
      minimum: 0,
      description:
        'How many times the handler was tried before giving up; 0 for a record refused as bad data (not JSON, or invalid against its schema) before any attempt.',
    }),
    consumerGroup: Type.String({ minLength: 1, description: 'Consumer group that gave up on the record.' }),
    failedAt: Field.isoInstant('When the record was dead-lettered, ISO-8601 UTC.'),
    dlqPartition: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Partition of the record in the DLQ topic (for replay and deletion by position).',
      }),
    ),
    dlqOffset: Type.Optional(Field.uint64('Offset of the record in the DLQ partition, a decimal string.')),
  },
  {
    $id: schemaId(name, version),
    title: 'Dead-lettered record',
    description:
      'A record of a <topic>.dlq topic as inspection APIs show it. On the wire a DLQ record is the original record (key, value bytes, headers) unchanged plus the dlq.* headers, so it can be replayed as is.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

export function invariants(value: Value, _context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  if (value.encoding === 'base64' && value.value !== null && !/^[A-Za-z0-9+/]*={0,2}$/.test(value.value)) {
    errors.push({ path: '/value', message: 'is not base64 although encoding is base64' });
  }
  return errors;
}
