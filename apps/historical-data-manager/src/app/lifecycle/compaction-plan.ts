/** A committed file that compaction may merge (smaller than the target size). */
export interface CompactionCandidate {
  key: string;
  bytes: number;
  rows: number;
  partitionDate: string;
  partitionHour: number;
  sourceTopic: string;
  sourcePartition: number;
  schemaVersion: number;
  firstOffset: bigint;
  lastOffset: bigint;
  minEventTimeNs: bigint;
  maxEventTimeNs: bigint;
  symbols: string[];
  /** The archive epoch of its offsets and their Kafka identity (offsets of different epochs are never merged). */
  epoch?: number;
  kafkaClusterId?: string | null;
  kafkaTopicId?: string | null;
}

/** Files of one hour partition, one source partition and one schema version, merged into one file. */
export interface PlannedCompaction {
  dataset: string;
  partitionDate: string;
  partitionHour: number;
  sourceTopic: string;
  sourcePartition: number;
  schemaVersion: number;
  /** In offset order. */
  inputs: CompactionCandidate[];
}

export interface CompactionLimits {
  /** An output file holds at most this many bytes of inputs (a single larger input is left alone). */
  targetBytes: number;
  /** A merge needs at least this many inputs. */
  minFiles: number;
}

/**
 * Plans the merges of one dataset's small files. Files are grouped by hour partition, source topic
 * partition and schema version (so a merged file keeps one offset range of one partition, which
 * the serving layer and the exactly-once bookkeeping rely on, and one schema version), then
 * packed in offset order into runs of at most `targetBytes`; every run of at least `minFiles`
 * files becomes one compaction.
 */
export function planCompactions(
  dataset: string,
  candidates: readonly CompactionCandidate[],
  limits: CompactionLimits,
): PlannedCompaction[] {
  const groups = new Map<string, CompactionCandidate[]>();
  for (const file of candidates) {
    if (file.bytes >= limits.targetBytes) continue;
    const id = [file.partitionDate, file.partitionHour, file.sourceTopic, file.sourcePartition, file.schemaVersion, file.epoch ?? 1].join('\u0000');
    const list = groups.get(id);
    if (list) list.push(file);
    else groups.set(id, [file]);
  }
  const plans: PlannedCompaction[] = [];
  for (const files of groups.values()) {
    files.sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : a.key.localeCompare(b.key)));
    let run: CompactionCandidate[] = [];
    let runBytes = 0;
    const close = () => {
      const first = run[0];
      if (first && run.length >= limits.minFiles) {
        plans.push({
          dataset,
          partitionDate: first.partitionDate,
          partitionHour: first.partitionHour,
          sourceTopic: first.sourceTopic,
          sourcePartition: first.sourcePartition,
          schemaVersion: first.schemaVersion,
          inputs: run,
        });
      }
      run = [];
      runBytes = 0;
    };
    for (const file of files) {
      if (run.length > 0 && runBytes + file.bytes > limits.targetBytes) close();
      run.push(file);
      runBytes += file.bytes;
    }
    close();
  }
  return plans.sort(
    (a, b) =>
      a.partitionDate.localeCompare(b.partitionDate) ||
      a.partitionHour - b.partitionHour ||
      a.sourceTopic.localeCompare(b.sourceTopic) ||
      a.sourcePartition - b.sourcePartition ||
      a.schemaVersion - b.schemaVersion,
  );
}
