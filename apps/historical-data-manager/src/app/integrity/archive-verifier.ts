import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Semaphore } from '../query/local-object-cache';
import { isNoSuchKey, type UnreadableFile } from './archive-file-state';
import type { CatalogedFile, IntegrityCatalog, ListedObject } from './integrity-catalog';

/** What one verification of a dataset found (lists cut at {@link REPORTED}). */
export interface VerificationReport {
  dataset: string;
  deep: boolean;
  startedAt: string;
  finishedAt: string;
  filesChecked: number;
  objectsListed: number;
  missing: UnreadableFile[];
  corrupt: UnreadableFile[];
  orphaned: { key: string; bytes: number; lastModified: string | null }[];
  /** Files committed before checksums were recorded whose checksum was read from the object now. */
  backfilled: number;
  counts: { missing: number; corrupt: number; orphaned: number };
}

const REPORTED = 1000;
const CATALOG_PAGE = 200;

export interface VerifyOptions {
  /** Read every object in full and compare its SHA-256 (otherwise HEAD: size and the store's checksum). */
  deep: boolean;
  orphanGraceMs: number;
  concurrency: number;
}

/**
 * Checks one dataset's catalog against the bucket, in pages (never the whole catalog or listing in
 * memory): each catalogued object with HEAD (present, size, the checksum the store keeps), reading
 * it in full only to backfill a missing checksum or when asked (`deep`); then the listing of the
 * dataset's prefix for objects no catalog row owns, older than the grace period.
 */
export class ArchiveVerifier {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly catalog: IntegrityCatalog,
  ) {}

  async verify(dataset: string, options: VerifyOptions): Promise<VerificationReport> {
    const startedAt = new Date();
    const report: VerificationReport = {
      dataset,
      deep: options.deep,
      startedAt: startedAt.toISOString(),
      finishedAt: '',
      filesChecked: 0,
      objectsListed: 0,
      missing: [],
      corrupt: [],
      orphaned: [],
      backfilled: 0,
      counts: { missing: 0, corrupt: 0, orphaned: 0 },
    };
    const limit = new Semaphore(options.concurrency);
    let after = '';
    for (;;) {
      const page = await this.catalog.filesPage(dataset, after, CATALOG_PAGE);
      if (page.length === 0) break;
      after = page[page.length - 1]?.key as string;
      await Promise.all(page.map((file) => limit.run(() => this.checkFile(file, options.deep, report))));
      report.filesChecked += page.length;
    }

    await this.catalog.clearOrphans(dataset);
    const graceEnd = Date.now() - options.orphanGraceMs;
    let token: string | undefined;
    do {
      const listed = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: `${dataset}/`,
          ContinuationToken: token,
          MaxKeys: 1000,
        }),
      );
      token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
      const objects: ListedObject[] = (listed.Contents ?? []).map((o) => ({
        key: o.Key as string,
        bytes: Number(o.Size ?? 0),
        lastModified: o.LastModified ?? null,
      }));
      report.objectsListed += objects.length;
      const settled = objects.filter((o) => o.lastModified === null || o.lastModified.getTime() <= graceEnd);
      const orphans = await this.catalog.unowned(settled);
      await this.catalog.addOrphans(dataset, orphans);
      report.counts.orphaned += orphans.length;
      for (const o of orphans) {
        if (report.orphaned.length < REPORTED) {
          report.orphaned.push({
            key: o.key,
            bytes: o.bytes,
            lastModified: o.lastModified?.toISOString() ?? null,
          });
        }
      }
    } while (token !== undefined);

    await this.catalog.recordCheck(dataset, {
      startedAt,
      deep: options.deep,
      filesChecked: report.filesChecked,
      objectsListed: report.objectsListed,
      missing: report.counts.missing,
      corrupt: report.counts.corrupt,
      orphaned: report.counts.orphaned,
      backfilled: report.backfilled,
    });
    report.finishedAt = new Date().toISOString();
    return report;
  }

  private async checkFile(file: CatalogedFile, deep: boolean, report: VerificationReport): Promise<void> {
    const found = await this.inspect(file, deep);
    if (found.state === 'ok') {
      if (found.backfill) {
        await this.catalog.backfillChecksum(file.key, found.backfill.sha256, found.backfill.storeChecksum);
        report.backfilled++;
      } else if (file.state !== 'ok') {
        await this.catalog.setState(file.key, 'ok', null); // the object is back as committed
      }
      return;
    }
    await this.catalog.setState(file.key, found.state, found.detail);
    report.counts[found.state]++;
    const list = report[found.state];
    if (list.length < REPORTED) {
      list.push({
        key: file.key,
        state: found.state,
        sourceTopic: file.sourceTopic,
        partition: file.partition,
        fromOffset: file.firstOffset.toString(),
        toOffset: file.lastOffset.toString(),
        detail: found.detail,
      });
    }
  }

  private async inspect(
    file: CatalogedFile,
    deep: boolean,
  ): Promise<
    | { state: 'ok'; backfill?: { sha256: string; storeChecksum: string | null } }
    | { state: 'missing' | 'corrupt'; detail: string }
  > {
    let head;
    try {
      head = await this.s3.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: file.key, ChecksumMode: 'ENABLED' }),
      );
    } catch (error) {
      if (isNoSuchKey(error)) return { state: 'missing', detail: 'the store has no object under this key' };
      throw error;
    }
    const size = Number(head.ContentLength ?? -1);
    if (size !== file.bytes)
      return {
        state: 'corrupt',
        detail: `the object has ${size} bytes; the catalog committed ${file.bytes}`,
      };
    const stored = head.ChecksumSHA256 ?? null;
    if (file.storeChecksum !== null && stored !== file.storeChecksum) {
      return {
        state: 'corrupt',
        detail:
          stored === null
            ? `the store keeps no checksum for the object; it was committed with ${file.storeChecksum} (the object was replaced)`
            : `the store's checksum is ${stored}; the catalog committed ${file.storeChecksum}`,
      };
    }
    if (file.sha256 === null || deep) {
      const sha256 = await this.sha256Of(file.key);
      if (sha256 === null) return { state: 'missing', detail: 'the store has no object under this key' };
      if (file.sha256 === null) return { state: 'ok', backfill: { sha256, storeChecksum: stored } };
      if (sha256 !== file.sha256)
        return {
          state: 'corrupt',
          detail: `the object's SHA-256 is ${sha256}; the catalog committed ${file.sha256}`,
        };
    }
    return { state: 'ok' };
  }

  private async sha256Of(key: string): Promise<string | null> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const hash = createHash('sha256');
      for await (const chunk of object.Body as Readable) hash.update(chunk as Buffer);
      return hash.digest('base64');
    } catch (error) {
      if (isNoSuchKey(error)) return null;
      throw error;
    }
  }
}
