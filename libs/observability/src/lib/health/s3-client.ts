import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { ConfigOf, s3Env } from '@tributary/config';

/** The S3 settings of `s3Env`, as parsed by `parseEnv`. */
export type S3Config = Pick<
  ConfigOf<typeof s3Env>,
  'S3_ENDPOINT' | 'S3_REGION' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY' | 'S3_FORCE_PATH_STYLE'
>;

/**
 * An S3 client for MinIO, S3Proxy or AWS from the `s3Env` configuration: path-style when the
 * config says so, and checksums only where the operation requires them (S3-compatible servers
 * reject or mishandle the CRC checksums newer SDKs add by default).
 */
export function createS3Client(config: S3Config, overrides: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: config.S3_ENDPOINT,
    region: config.S3_REGION,
    credentials: { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY },
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...overrides,
  });
}
