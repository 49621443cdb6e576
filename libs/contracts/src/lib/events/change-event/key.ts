import { nanosFromMicros } from '../../event-time';
import type { Value } from './value';

export const keyDescription =
  'primary key columns as a JSON object, e.g. {"id":42} (Debezium\'s key without schema)';

/**
 * The key function of a table's change topic. The key is the JSON of the primary key columns, in the
 * given order, as Debezium's JSON converter writes it without schemas: every change of one row stays in
 * one partition, in commit order. A truncate has no row; it is keyed by "<schema>.<table>".
 */
export function keyFor(primaryKey: readonly string[]): (value: Value) => string {
  if (primaryKey.length === 0) throw new RangeError('a change topic needs at least one primary key column');
  return (value) => {
    const row = value.after ?? value.before;
    if (row === null) return `${value.source.schema}.${value.source.table}`;
    const key: Record<string, unknown> = {};
    for (const column of primaryKey) key[column] = row[column] ?? null;
    return JSON.stringify(key);
  };
}

/** Key of a table whose primary key is the single column `id`. */
export const key = keyFor(['id']);

/** The commit time of the change in the database: the event time of CDC. */
export function eventTime(value: Value): string {
  const { ts_us: micros, ts_ms: millis } = value.source;
  return micros !== undefined ? nanosFromMicros(micros) : (BigInt(millis) * 1_000_000n).toString();
}
