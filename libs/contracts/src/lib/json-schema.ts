import type { TSchema } from '@sinclair/typebox';
import { allTopicSpecs, CDC_TOPIC_PREFIX, changeEventTopic, dlqSpecOf, kafkaTopicConfig } from './catalog';
import { DLQ_HEADERS, HEADERS, dlqTopicOf } from './headers';
import type { TopicSpec } from './topic-spec';

/** TypeBox emits draft-07 keywords (`items` as an array for tuples, `const`). */
export const JSON_SCHEMA_DIALECT = 'http://json-schema.org/draft-07/schema#';

/** File name of a published schema, e.g. "OptionQuote.v1.json". */
export function publishedSchemaFileName(event: string, version: number): string {
  return `${event}.v${version}.json`;
}

const LEADING_KEYS = [
  '$schema',
  '$id',
  'title',
  'description',
  'type',
  'required',
  'properties',
  'additionalProperties',
];

/**
 * The JSON Schema document published for an event version: plain JSON (TypeBox's internal markers
 * dropped), top-level keys in reading order.
 */
export function jsonSchemaOf(event: { readonly schema: TSchema }): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(event.schema)) as Record<string, unknown>;
  const document: Record<string, unknown> = { $schema: JSON_SCHEMA_DIALECT };
  for (const key of LEADING_KEYS) if (key in plain) document[key] = plain[key];
  for (const [key, value] of Object.entries(plain)) if (!(key in document)) document[key] = value;
  return document;
}

function describeTopic(spec: TopicSpec, topic = spec.topic) {
  return {
    topic,
    event: spec.event,
    version: spec.version,
    schemaId: (spec.schema as { $id?: string }).$id,
    schemaFile: publishedSchemaFileName(spec.event, spec.version),
    key: spec.keyDescription,
    partitions: spec.partitions,
    retentionMs: spec.retentionMs,
    cleanupPolicy: spec.cleanupPolicy,
    compression: spec.compression,
    dlqTopic: spec.dlq ? dlqTopicOf(topic) : null,
    config: Object.fromEntries(kafkaTopicConfig(spec).map((entry) => [entry.name, entry.value])),
    description: spec.description,
  };
}

/** The topic catalog as published JSON (catalog.json): for tools and teams outside TypeScript. */
export function catalogDocument() {
  const changeTopic = changeEventTopic(CDC_TOPIC_PREFIX, 'schema', 'table');
  const template = `${CDC_TOPIC_PREFIX}.<schema>.<table>`;
  return {
    headers: HEADERS,
    dlqHeaders: DLQ_HEADERS,
    eventTime: 'Epoch nanoseconds UTC as a decimal string (field ts, header event.time).',
    topics: allTopicSpecs().map((spec) => describeTopic(spec)),
    templates: [
      {
        ...describeTopic(changeTopic, template),
        key: 'primary key columns as a JSON object, e.g. {"id":42}',
        description:
          'Row changes of one table (Debezium envelope), in commit order per primary key; created by the CDC service per captured table.',
      },
      {
        ...describeTopic(dlqSpecOf(changeTopic), dlqTopicOf(template)),
        description:
          'Change events of one table that could not be processed: original key, value and headers plus dlq.* headers.',
      },
    ],
  };
}
