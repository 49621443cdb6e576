import { Type, type Static } from '@sinclair/typebox';
import { Field, schemaId } from '../../field-types';
import { eventTimeInvariants } from '../../semantic-checks';

export const name = 'QualityFinding';
export const version = 1;

/** The checks of the data quality processor. */
export const CHECKS = ['schema', 'duplicate', 'outlier', 'gap'] as const;
export type QualityCheck = (typeof CHECKS)[number];

/** What happened to the record the finding is about. */
export const ACTIONS = ['dead-lettered', 'dropped', 'passed'] as const;
export type QualityAction = (typeof ACTIONS)[number];

export const schema = Type.Object(
  {
    findingId: Type.String({
      minLength: 1,
      maxLength: 300,
      description:
        'Stable identity: check, source topic, partition and offset (and granularity for gaps); a redelivered record gives the same id, so consumers deduplicate by it.',
    }),
    check: Field.oneOf(CHECKS, 'Which check found it.'),
    action: Field.oneOf(
      ACTIONS,
      'dead-lettered: sent to <topic>.dlq; dropped: not forwarded (a duplicate); passed: forwarded to the validated topic, only flagged.',
    ),
    symbol: Type.Optional(Field.ticker('Ticker of the record, when it could be read.')),
    ts: Field.eventTime('Event time of the record (for a record that could not be read: when it was refused).'),
    message: Field.text('What was found, for people.', 1024),
    source: Type.Object(
      {
        topic: Type.String({ minLength: 1, maxLength: 249, description: 'Topic the record was read from.' }),
        partition: Type.Integer({ minimum: 0, description: 'Partition the record was read from.' }),
        offset: Field.uint64('Offset of the record in its partition, a decimal string.'),
      },
      { description: 'Where the record sits in Kafka.', additionalProperties: false },
    ),
    price: Type.Optional(Field.positivePrice('outlier: the trade price.')),
    mean: Type.Optional(Type.Number({ description: 'outlier: rolling mean price of the symbol before the trade.' })),
    stddev: Type.Optional(
      Type.Number({ minimum: 0, description: 'outlier: rolling standard deviation of the price before the trade.' }),
    ),
    zScore: Type.Optional(Type.Number({ description: 'outlier: (price - mean) / stddev.' })),
    gapMs: Type.Optional(
      Type.Number({ minimum: 0, description: "gap: event time since the symbol's previous record, in milliseconds." }),
    ),
    granularities: Type.Optional(
      Type.Array(Field.duration('A gap granularity, e.g. "500ms", "5s", "30s".'), {
        minItems: 1,
        maxItems: 16,
        description: 'gap: every configured granularity the gap exceeds.',
      }),
    ),
    fingerprint: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description:
          'duplicate: the fingerprint both records share (their idempotency.key header, else a hash of the canonical value).',
      }),
    ),
    firstSeen: Type.Optional(
      Type.Object(
        {
          partition: Type.Integer({ minimum: 0, description: 'Partition of the first record.' }),
          offset: Field.uint64('Offset of the first record.'),
        },
        { description: 'duplicate: where the record it repeats was read.', additionalProperties: false },
      ),
    ),
  },
  {
    $id: schemaId(name, version),
    title: 'Data quality finding',
    description:
      'A finding of the kafka-gateway data quality processor about one record: failed schema, duplicate, price outlier (fat finger) or gap in the stream. Topic quality.events, keyed by symbol.',
    additionalProperties: false,
  },
);

export type Value = Static<typeof schema>;

export const invariants = eventTimeInvariants;
