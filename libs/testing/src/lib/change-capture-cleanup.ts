/** What a cleanup needs of a PostgreSQL connection: a `pg` Client or Pool both fit. */
interface Queryable {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

export interface ChangeCaptureObjects {
  readonly slot: string;
  readonly publication: string;
  readonly schema: string;
}

/**
 * Drops what a change-capture test created: its replication slot first (a slot left behind holds
 * PostgreSQL's WAL for good), then its publication and schema. Safe when some were never created.
 */
export async function dropChangeCaptureObjects(client: Queryable, objects: ChangeCaptureObjects): Promise<void> {
  await client.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
    objects.slot,
  ]);
  await client.query(`DROP PUBLICATION IF EXISTS "${objects.publication.replace(/"/g, '""')}"`);
  await client.query(`DROP SCHEMA IF EXISTS "${objects.schema.replace(/"/g, '""')}" CASCADE`);
}
