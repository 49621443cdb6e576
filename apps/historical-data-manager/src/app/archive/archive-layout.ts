/** Where archived records live in the bucket: Hive-style partitions by event time (UTC). */

export interface HourPartition {
  /** `YYYY-MM-DD` */
  date: string;
  /** 0..23 */
  hour: number;
}

const NS_PER_MS = 1_000_000n;

const MS_PER_HOUR = 3_600_000;
/** The last hour asked for: records come in runs of the same hour, and formatting a date is not free. */
let lastHour = Number.NaN;
let lastPartition: Readonly<HourPartition> = { date: '', hour: 0 };

/** The hour partition of an event time given in epoch nanoseconds (the same object for the same hour: do not change it). */
export function hourPartitionOf(eventTimeNs: bigint): Readonly<HourPartition> {
  const ms = Number(eventTimeNs / NS_PER_MS);
  const hour = Math.floor(ms / MS_PER_HOUR);
  if (hour !== lastHour) {
    const iso = new Date(hour * MS_PER_HOUR).toISOString();
    lastPartition = { date: iso.slice(0, 10), hour: Number(iso.slice(11, 13)) };
    lastHour = hour;
  }
  return lastPartition;
}

/** `<dataset>/date=YYYY-MM-DD/hour=HH/`, the prefix Spark, Trino, DuckDB and pandas read as partition columns. */
export function partitionPrefix(dataset: string, partition: HourPartition): string {
  return `${dataset}/date=${partition.date}/hour=${String(partition.hour).padStart(2, '0')}/`;
}

/**
 * The object key of the records `firstOffset..lastOffset` of one topic partition in one hour
 * partition. The same offsets always give the same key, so a retried flush overwrites its own
 * object instead of adding a copy (the Confluent S3 sink's naming). Offsets are zero-padded to
 * 20 digits so keys sort in offset order. Offsets restart when a topic is re-created or archived
 * from another cluster: from the topic's second epoch on, the epoch is part of the name
 * (`....e2.parquet`), so a new epoch never overwrites the objects of an earlier one.
 */
export function archiveObjectKey(
  dataset: string,
  partition: HourPartition,
  topic: string,
  topicPartition: number,
  firstOffset: bigint,
  lastOffset: bigint,
  epoch = 1,
): string {
  const pad = (offset: bigint) => offset.toString().padStart(20, '0');
  const suffix = epoch > 1 ? `.e${epoch}` : '';
  return `${partitionPrefix(dataset, partition)}${topic}+${topicPartition}+${pad(firstOffset)}+${pad(lastOffset)}${suffix}.parquet`;
}

/** The dataset name of a topic: the topic with dots as underscores (`market.trades` -> `market_trades`). */
export function datasetOfTopic(topic: string): string {
  return topic.replace(/[^A-Za-z0-9_]/g, '_');
}
