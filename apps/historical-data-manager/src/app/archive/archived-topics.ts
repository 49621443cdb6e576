import { topicSpec, type TopicSpec } from '@tributary/contracts';
import { datasetOfTopic } from './archive-layout';
import { archiveColumnsOf } from './parquet-partition-writer';
import type { ArchivedDataset } from './topic-archiver';

/** A configured topic to archive, with the contract its records follow. */
export interface ArchivedTopic {
  dataset: ArchivedDataset;
  spec: TopicSpec;
}

/**
 * Resolves `ARCHIVE_TOPICS` entries: `<topic>` for a topic Tributary knows (catalog or change
 * topic), or `<topic>:<catalog topic>` for a topic whose records follow a known topic's schema
 * (a replay or a copy). Throws naming every entry whose schema is unknown.
 */
export function resolveArchivedTopics(entries: readonly string[]): ArchivedTopic[] {
  const unknown: string[] = [];
  const resolved: ArchivedTopic[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const [topic, schemaTopic = topic] = entry.split(':').map((part) => part.trim()) as [string, string?];
    const spec = topicSpec(schemaTopic);
    if (spec === undefined || !/^[A-Za-z0-9._-]{1,249}$/.test(topic)) {
      unknown.push(entry);
      continue;
    }
    if (seen.has(topic)) continue;
    seen.add(topic);
    resolved.push({
      spec,
      dataset: {
        name: datasetOfTopic(topic),
        topic,
        schemaVersion: spec.version,
        columns: archiveColumnsOf(spec.schema),
        retentionDays: null,
      },
    });
  }
  if (unknown.length > 0) {
    throw new Error(
      `has no known schema for ${unknown.map((u) => JSON.stringify(u)).join(', ')} ` +
        '(name a catalog or change topic, or write <topic>:<catalog topic>)',
    );
  }
  return resolved;
}
