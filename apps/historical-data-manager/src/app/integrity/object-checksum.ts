import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/** Objects above this size are uploaded in parts of this size (`@aws-sdk/lib-storage`). */
export const ARCHIVE_PART_BYTES = 8 * 1024 * 1024;

/**
 * What the catalog records of an archived object at commit: its size, the SHA-256 of its bytes
 * (base64, as S3 writes checksums) and the checksum the store keeps for it, which `HeadObject`
 * answers with checksum mode on: the same SHA-256 for an object sent in one request, the S3
 * composite `<sha256 of the parts' sha256s>-<parts>` for a multipart upload.
 */
export interface ObjectChecksum {
  bytes: number;
  sha256: string;
  /** Null when the store keeps no checksum (it answered none): then only the size can be checked cheaply. */
  storeChecksum: string | null;
}

/** Thrown when the store answers a checksum other than the one of the bytes sent. */
export class ChecksumMismatchError extends Error {}

/** Size, SHA-256 and expected store checksum of a byte stream cut into `partBytes` parts. */
export async function checksumOfStream(
  stream: Readable,
  partBytes = ARCHIVE_PART_BYTES,
): Promise<{ bytes: number; sha256: string; storeChecksum: string }> {
  const whole = createHash('sha256');
  const parts: Buffer[] = [];
  let part = createHash('sha256');
  let inPart = 0;
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    whole.update(chunk);
    bytes += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      const take = Math.min(partBytes - inPart, chunk.length - at);
      part.update(chunk.subarray(at, at + take));
      inPart += take;
      at += take;
      if (inPart === partBytes) {
        parts.push(part.digest());
        part = createHash('sha256');
        inPart = 0;
      }
    }
  }
  if (inPart > 0) parts.push(part.digest());
  const sha256 = whole.digest('base64');
  const storeChecksum =
    bytes <= partBytes
      ? sha256
      : `${createHash('sha256').update(Buffer.concat(parts)).digest('base64')}-${parts.length}`;
  return { bytes, sha256, storeChecksum };
}

/** {@link checksumOfStream} of a local file. */
export function checksumOfFile(
  path: string,
  partBytes = ARCHIVE_PART_BYTES,
): ReturnType<typeof checksumOfStream> {
  return checksumOfStream(createReadStream(path), partBytes);
}

/**
 * Uploads a local Parquet file under `key` so that the store verifies every byte: one PutObject
 * carrying the file's SHA-256 up to {@link ARCHIVE_PART_BYTES} (the store refuses it with
 * BadDigest when what arrived differs), a multipart upload with a SHA-256 per part above. The
 * store's answer is compared with the checksum computed here. Returns what the catalog records.
 */
export async function uploadWithChecksum(
  s3: S3Client,
  bucket: string,
  key: string,
  path: string,
): Promise<ObjectChecksum> {
  const checksum = await checksumOfFile(path);
  const single = checksum.bytes <= ARCHIVE_PART_BYTES;
  const done = await new Upload({
    client: s3,
    params: {
      Bucket: bucket,
      Key: key,
      Body: createReadStream(path),
      ContentType: 'application/vnd.apache.parquet',
      ...(single ? { ChecksumSHA256: checksum.sha256 } : { ChecksumAlgorithm: 'SHA256' as const }),
    },
    partSize: ARCHIVE_PART_BYTES,
    queueSize: 4,
  }).done();
  const answered = (done as { ChecksumSHA256?: string }).ChecksumSHA256;
  if (answered !== undefined && answered !== checksum.storeChecksum) {
    throw new ChecksumMismatchError(
      `the store holds ${key} with checksum ${answered}; the bytes sent have ${checksum.storeChecksum}`,
    );
  }
  return { bytes: checksum.bytes, sha256: checksum.sha256, storeChecksum: answered ?? null };
}
