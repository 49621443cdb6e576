import { rmSync } from 'node:fs';
import { DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { ClusterAdmin } from '@tributary/kafka';
import { dropChangeCaptureObjects } from '@tributary/testing';
import type { Client } from 'pg';
import type { RunNames } from './bench-config';
import { ARCHIVE_BUCKET, type PlatformServices, scratchDirOf, SERVICES } from './platform-services';

export interface RunResources {
  readonly names: RunNames;
  readonly services: PlatformServices;
  readonly admin: ClusterAdmin;
  readonly catalog: Client;
  readonly s3: S3Client;
  /** Groups the run used besides the services' own (e.g. the ceiling's consumer group). */
  readonly extraGroups: readonly string[];
}

/** The consumer groups the services of a run create from their KAFKA_GROUP_ID. */
function serviceGroups(names: RunNames): string[] {
  const gateway = names.groupOf('kafka-gateway');
  const cep = names.groupOf('cep-engine');
  return [
    ...SERVICES.map((service) => names.groupOf(service)),
    `${gateway}-quality`,
    `${gateway}-candles`,
    `${gateway}-enrichment`,
    `${cep}.global`,
  ];
}

/**
 * Leaves the machine as the run found it: stops the services this script started (each by its own
 * child process), deletes the archive's objects and catalog schema, the change-capture slot,
 * publication and schema, the run's topics and consumer groups, and the services' scratch folders.
 * Every step is tried even when one before it failed. The infrastructure keeps running.
 */
export async function cleanUpRun(resources: RunResources): Promise<void> {
  const { names, services, admin, catalog, s3 } = resources;
  const attempt = async (what: string, step: () => Promise<unknown>) => {
    try {
      await step();
    } catch (error) {
      console.warn(`cleanup: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  await attempt('stopping the services', () => services.stopAll());
  await attempt('deleting the archive objects', async () => {
    const { rows } = await catalog.query<{ object_key: string }>(
      `SELECT object_key FROM "${names.archiveSchema}".files UNION SELECT object_key FROM "${names.archiveSchema}".retired_files`,
    );
    for (let i = 0; i < rows.length; i += 1000) {
      const keys = rows.slice(i, i + 1000).map((row) => ({ Key: row.object_key }));
      await s3.send(
        new DeleteObjectsCommand({ Bucket: ARCHIVE_BUCKET, Delete: { Objects: keys, Quiet: true } }),
      );
    }
  });
  await attempt('dropping the archive catalog', () =>
    catalog.query(`DROP SCHEMA IF EXISTS "${names.archiveSchema}" CASCADE`),
  );
  await attempt('dropping the change-capture slot, publication and schema', () =>
    dropChangeCaptureObjects(catalog, names.cdc),
  );
  await attempt('deleting the run topics', async () => {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(names.topicPrefix));
    await admin.deleteTopics(topics);
  });
  for (const group of [...serviceGroups(names), ...resources.extraGroups]) {
    // A group that never committed does not exist: nothing to delete.
    await admin.deleteGroups([group]).catch(() => undefined);
  }
  await attempt('removing the scratch folder', async () =>
    rmSync(scratchDirOf(names), { recursive: true, force: true }),
  );
}
