import { QueryRejection, SNAPSHOT_NAME } from '../query/query-parameters';

/** `POST /v1/datasets/:dataset/compact` body: one date, one hour of a date, or (empty) every partition. */
export interface CompactRequest {
  date: string | null;
  hour: number | null;
}

/** `POST /v1/snapshots` body. */
export interface SnapshotRequest {
  name: string;
  /** null: every dataset of the catalog. */
  datasets: string[] | null;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new QueryRejection(400, null, 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function refuseUnknown(body: Record<string, unknown>, known: readonly string[]): void {
  for (const field of Object.keys(body)) {
    if (!known.includes(field)) {
      throw new QueryRejection(400, field, `unknown field "${field}" (known: ${known.join(', ')})`);
    }
  }
}

/** Validates a compaction request; throws a {@link QueryRejection} naming the field at fault. */
export function parseCompactRequest(raw: unknown): CompactRequest {
  const body = objectBody(raw);
  refuseUnknown(body, ['date', 'hour']);
  let date: string | null = null;
  if (body['date'] !== undefined && body['date'] !== null) {
    const text = body['date'];
    const valid =
      typeof text === 'string' &&
      /^\d{4}-\d{2}-\d{2}$/.test(text) &&
      !Number.isNaN(Date.parse(`${text}T00:00:00Z`)) &&
      new Date(`${text}T00:00:00Z`).toISOString().startsWith(text);
    if (!valid) throw new QueryRejection(400, 'date', `date ${JSON.stringify(text)} is not a day written YYYY-MM-DD`);
    date = text;
  }
  let hour: number | null = null;
  if (body['hour'] !== undefined && body['hour'] !== null) {
    const value = body['hour'];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 23) {
      throw new QueryRejection(400, 'hour', `hour ${JSON.stringify(value)} must be a whole number from 0 to 23`);
    }
    if (date === null) throw new QueryRejection(400, 'hour', 'an hour needs its date');
    hour = value;
  }
  return { date, hour };
}

/** Validates a snapshot request; throws a {@link QueryRejection} naming the field at fault. */
export function parseSnapshotRequest(raw: unknown): SnapshotRequest {
  const body = objectBody(raw);
  refuseUnknown(body, ['name', 'datasets']);
  const name = body['name'];
  if (typeof name !== 'string' || !SNAPSHOT_NAME.test(name)) {
    throw new QueryRejection(
      400,
      'name',
      `name ${name === undefined ? 'is required' : `${JSON.stringify(name).slice(0, 140)} is not a snapshot name`}: letters, digits, ".", "_", "-", starting with a letter or digit, at most 128`,
    );
  }
  const datasets = body['datasets'];
  if (datasets === undefined || datasets === null) return { name, datasets: null };
  if (
    !Array.isArray(datasets) ||
    datasets.length === 0 ||
    datasets.length > 1000 ||
    datasets.some((d) => typeof d !== 'string' || !/^[A-Za-z0-9_]{1,200}$/.test(d))
  ) {
    throw new QueryRejection(400, 'datasets', 'datasets must be a list of 1 to 1000 dataset names (omit it for every dataset)');
  }
  return { name, datasets: [...new Set(datasets as string[])] };
}
