import { Type, type Static } from '@sinclair/typebox';
import type { FieldError, ValidationContext } from '../../field-error';
import { Field, schemaId } from '../../field-types';
import { epochMillisErrors } from '../../semantic-checks';

export const name = 'ChangeEvent';
export const version = 1;

const row = Type.Record(Type.String({ minLength: 1 }), Type.Unknown(), {
  description:
    'A row as column name -> value. int8 and numeric values are decimal strings (exact), timestamps ISO-8601 strings.',
});

const source = Type.Object(
  {
    version: Type.String({
      minLength: 1,
      description: 'Version of the capturing service (Debezium: the Debezium version).',
    }),
    connector: Field.oneOf(['postgresql'] as const, 'Kind of database the change comes from.'),
    name: Type.String({
      minLength: 1,
      description: 'Logical server name: the topic prefix (Debezium topic.prefix).',
    }),
    ts_ms: Type.Integer({
      minimum: 0,
      description: 'Commit time of the change in the database, epoch milliseconds.',
    }),
    ts_us: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Commit time of the change in the database, epoch microseconds.',
      }),
    ),
    snapshot: Field.oneOf(
      [
        'true',
        'first',
        'first_in_data_collection',
        'last_in_data_collection',
        'last',
        'false',
        'incremental',
      ] as const,
      'Whether the event comes from a snapshot ("false" for streamed changes), and where in it; a string, as Debezium writes it.',
    ),
    db: Type.String({ minLength: 1, description: 'Database name.' }),
    sequence: Field.nullable(Type.String(), {
      description:
        'Stringified JSON array [last committed LSN, current LSN] (decimal strings), e.g. "[\\"24023119\\",\\"24023128\\"]".',
    }),
    schema: Type.String({ minLength: 1, description: 'Schema of the table.' }),
    table: Type.String({ minLength: 1, description: 'Table name.' }),
    txId: Field.nullable(Type.Integer({ minimum: 0 }), {
      description: 'PostgreSQL transaction id (xid) of the change; null in a snapshot.',
    }),
    lsn: Field.nullable(Type.Integer({ minimum: 0 }), {
      description: 'Log sequence number of the change in the WAL, as an integer.',
    }),
    xmin: Type.Optional(
      Field.nullable(Type.Integer({ minimum: 0 }), {
        description: 'xmin of the replication slot, when tracked.',
      }),
    ),
  },
  {
    description: 'Where the change comes from (Debezium io.debezium.connector.postgresql.Source).',
    additionalProperties: false,
  },
);

const transaction = Type.Object(
  {
    id: Type.String({
      minLength: 1,
      description: 'Transaction identifier "txId:LSN", as in cdc.transactions.',
    }),
    total_order: Type.Integer({
      minimum: 1,
      description: 'Position of this event among all events of the transaction, from 1.',
    }),
    data_collection_order: Type.Integer({
      minimum: 1,
      description: 'Position of this event among the events of the transaction on the same table, from 1.',
    }),
  },
  { description: 'Transaction this change belongs to.', additionalProperties: false },
);

export const schema = Type.Object(
  {
    before: Field.nullable(row, {
      description:
        "Row before the change: null for c and r; for u and d the previous values the table's REPLICA IDENTITY provides (with DEFAULT: only the primary key).",
    }),
    after: Field.nullable(row, { description: 'Row after the change: null for d and t.' }),
    source,
    op: Field.oneOf(
      ['c', 'u', 'd', 'r', 't'] as const,
      'Operation: c = create (insert), u = update, d = delete, r = read (snapshot), t = truncate.',
    ),
    ts_ms: Type.Integer({
      minimum: 0,
      description:
        'Time the capturing service processed the change, epoch milliseconds; ts_ms - source.ts_ms is the capture lag.',
    }),
    ts_us: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Time the capturing service processed the change, epoch microseconds.',
      }),
    ),
    transaction: Field.nullable(transaction, {
      description:
        'Transaction metadata; null when the change is not part of a tracked transaction (e.g. a snapshot read).',
    }),
  },
  {
    $id: schemaId(name, version),
    title: 'Change event',
    description:
      'Debezium-compatible change event envelope (PostgreSQL connector, JSON converter without schemas) of one row. Topics cdc.<schema>.<table>, keyed by the primary key as a JSON object. ts_ns is not written: it exceeds 2^53; ts_us is exact.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;
export type Row = Static<typeof row>;
export type Source = Static<typeof source>;
export type Operation = Value['op'];

export function invariants(value: Value, context: ValidationContext): FieldError[] {
  const errors: FieldError[] = [];
  epochMillisErrors(value.source.ts_ms, '/source/ts_ms', context, errors);
  epochMillisErrors(value.ts_ms, '/ts_ms', context, errors);
  const { op, before, after } = value;
  if ((op === 'c' || op === 'r') && before !== null)
    errors.push({ path: '/before', message: `must be null for op "${op}"` });
  if ((op === 'c' || op === 'r' || op === 'u') && after === null)
    errors.push({ path: '/after', message: `is required for op "${op}"` });
  if (op === 'd' && after !== null) errors.push({ path: '/after', message: 'must be null for op "d"' });
  if (op === 'd' && before === null)
    errors.push({ path: '/before', message: 'is required for op "d": it carries the deleted key' });
  if (op === 't' && (before !== null || after !== null))
    errors.push({ path: '', message: 'a truncate carries no row: before and after must be null' });
  return errors;
}
