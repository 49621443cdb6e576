import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the tests need of a catalog connection: a TypeORM DataSource or a pg client both fit. */
interface CatalogQueries {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/** The object keys the catalog lists as committed for `dataset`, in key order. */
export async function committedObjectKeys(
  catalog: CatalogQueries,
  catalogSchema: string,
  dataset: string,
): Promise<string[]> {
  const rows = (await catalog.query(
    `SELECT object_key FROM "${catalogSchema}".files WHERE dataset = $1 ORDER BY object_key`,
    [dataset],
  )) as { object_key: string }[];
  return rows.map((row) => row.object_key);
}

/** Downloads an archived object into `dir` and returns the local path, for DuckDB or hyparquet to read. */
export async function downloadObject(s3: S3Client, bucket: string, key: string, dir: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const path = join(dir, key.replace(/[/=+]/g, '_'));
  writeFileSync(path, await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  return path;
}
