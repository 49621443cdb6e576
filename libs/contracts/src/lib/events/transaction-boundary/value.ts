import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { epochMillisErrors } from '../../semantic-checks';

export const name = 'TransactionBoundary';
export const version = 1;

const dataCollection = Type.Object(
  {
    data_collection: Type.String({ minLength: 1, description: 'Table as "<schema>.<table>".' }),
    event_count: Type.Integer({
      minimum: 0,
      description: 'Change events the transaction emitted for this table.',
    }),
  },
  { additionalProperties: false },
);

export const schema = Type.Object(
  {
    status: Field.oneOf(['BEGIN', 'END'] as const, 'Whether the transaction starts or ends.'),
    id: Type.String({
      minLength: 1,
      description:
        'Transaction identifier "txId:LSN"; the same in BEGIN, END and the transaction field of its change events.',
    }),
    ts_ms: Type.Integer({
      minimum: 0,
      description: 'Time of the boundary in the database (commit time for END), epoch milliseconds.',
    }),
    event_count: Field.nullable(Type.Integer({ minimum: 0 }), {
      description: 'Total change events of the transaction; null for BEGIN.',
    }),
    data_collections: Field.nullable(Type.Array(dataCollection), {
      description: 'Change events per table; null for BEGIN.',
    }),
  },
  {
    $id: schemaId(name, version),
    title: 'Transaction boundary',
    description:
      'Debezium-compatible transaction metadata event: BEGIN and END of a database transaction. Topic cdc.transactions, keyed by transaction id.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  epochMillisErrors(value.ts_ms, '/ts_ms', context, errors);
  if (value.status === 'BEGIN') {
    if (value.event_count !== null) errors.push({ path: '/event_count', message: 'must be null for BEGIN' });
    if (value.data_collections !== null)
      errors.push({ path: '/data_collections', message: 'must be null for BEGIN' });
    return errors;
  }
  if (value.event_count === null) errors.push({ path: '/event_count', message: 'is required for END' });
  if (value.data_collections === null) {
    errors.push({ path: '/data_collections', message: 'is required for END' });
  } else if (value.event_count !== null) {
    const sum = value.data_collections.reduce((total, item) => total + item.event_count, 0);
    if (sum !== value.event_count) {
      errors.push({
        path: '/event_count',
        message: `${value.event_count} differs from the sum over data_collections (${sum})`,
      });
    }
  }
  return errors;
}
