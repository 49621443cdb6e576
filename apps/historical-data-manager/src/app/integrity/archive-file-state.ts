/**
 * What the archive knows of a catalogued file's object, next to its catalog row:
 * - `ok`: the object was last seen as committed (or never checked since);
 * - `missing`: the store has no object under its key;
 * - `corrupt`: the object differs from what was committed (size or checksum);
 * - `lost`: missing, and its records are no longer in Kafka either: a known gap (`lost_files`).
 */
export type FileState = 'ok' | 'missing' | 'corrupt';
export type UnreadableState = 'missing' | 'corrupt' | 'lost';

/** A catalogued file a query cannot read, with the offsets it holds. */
export interface UnreadableFile {
  key: string;
  state: UnreadableState;
  sourceTopic: string;
  partition: number;
  fromOffset: string;
  toOffset: string;
  /** Why: what the store answered, or the sizes or checksums that differ. */
  detail: string | null;
}

/** A read found the object of `key` missing or different from what the catalog committed. */
export class ObjectUnreadableError extends Error {
  constructor(
    readonly key: string,
    readonly state: 'missing' | 'corrupt',
    readonly detail: string,
  ) {
    super(`archive object ${key} is ${state}: ${detail}`);
  }
}

/** Whether an S3 error says the key holds no object (never an outage: retrying does not bring it back). */
export function isNoSuchKey(error: unknown): boolean {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | null;
  return (
    e?.name === 'NoSuchKey' ||
    e?.Code === 'NoSuchKey' ||
    e?.name === 'NotFound' ||
    e?.$metadata?.httpStatusCode === 404
  );
}

/**
 * A query touches files that cannot be read: answered 409 naming them and the dataset's state,
 * never 503 (asking again does not bring the data back), unless the query allows a partial answer.
 */
export class ArchiveFilesUnreadableError extends Error {
  constructor(
    readonly dataset: string,
    readonly files: UnreadableFile[],
  ) {
    const counts = countByState(files);
    super(
      `dataset ${dataset} cannot answer this range completely: ${describeCounts(counts)} ` +
        `(${files
          .slice(0, 3)
          .map((f) => `${f.key} (${f.sourceTopic}[${f.partition}] offsets ${f.fromOffset}-${f.toOffset})`)
          .join(', ')}${files.length > 3 ? ', ...' : ''}); ` +
        `ask with allowPartial=true for the readable rows, see GET /v1/datasets/${dataset}/integrity, ` +
        `or repair with POST /v1/datasets/${dataset}/repair`,
    );
  }
}

export function countByState(files: readonly { state: UnreadableState }[]): Record<UnreadableState, number> {
  const counts: Record<UnreadableState, number> = { missing: 0, corrupt: 0, lost: 0 };
  for (const f of files) counts[f.state]++;
  return counts;
}

function describeCounts(counts: Record<UnreadableState, number>): string {
  return (Object.entries(counts) as [UnreadableState, number][])
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} file${n === 1 ? '' : 's'} ${state}`)
    .join(', ');
}

/**
 * The offset ranges of unreadable files as one header value (`<topic>[<partition>]:<from>-<to>`,
 * `;`-separated), cut to at most `maxChars` with the number left out.
 */
export function unreadableRangesHeader(files: readonly UnreadableFile[], maxChars = 4000): string {
  let out = '';
  for (let i = 0; i < files.length; i++) {
    const f = files[i] as UnreadableFile;
    const entry = `${f.sourceTopic}[${f.partition}]:${f.fromOffset}-${f.toOffset}=${f.state}`;
    const more = `;+${files.length - i} more`;
    if (out.length + entry.length + 1 + more.length > maxChars) return `${out}${more}`;
    out += (out === '' ? '' : ';') + entry;
  }
  return out;
}
