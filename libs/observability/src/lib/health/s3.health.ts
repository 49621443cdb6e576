import { HeadBucketCommand, type S3Client, type S3ServiceException } from '@aws-sdk/client-s3';
import { Inject, Injectable, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { DEFAULT_PROBE_TIMEOUT_MS, describeError, raceTimeout, TimeoutError } from './race-timeout';
import { createS3Client, type S3Config } from './s3-client';

/** Injection token of the {@link S3HealthOptions} (set by `HealthModule.forRoot`). */
export const S3_HEALTH_OPTIONS = Symbol('tributary.s3HealthOptions');

export interface S3HealthOptions {
  /** Connection settings (`s3Env`); a client is built from them with `createS3Client`. */
  config: S3Config;
  /** The bucket that must exist (usually `S3_BUCKET`). */
  bucket: string;
  /** How long `HeadBucket` may take before the check reports down. Default 3000 ms. */
  timeoutMs?: number;
}

/**
 * Readiness of the S3 server and bucket: `HeadBucket`, raced against a timeout and aborted
 * when it loses. Reports down naming the bucket when it is missing or not accessible.
 */
@Injectable()
export class S3HealthIndicator implements OnApplicationShutdown {
  readonly bucket: string;
  readonly endpoint: string;
  private readonly client: S3Client;
  private readonly timeoutMs: number;

  constructor(
    @Inject(S3_HEALTH_OPTIONS) options: S3HealthOptions,
    @Optional() private readonly indicators: HealthIndicatorService = new HealthIndicatorService(),
  ) {
    this.bucket = options.bucket;
    this.endpoint = options.config.S3_ENDPOINT;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    // One attempt: the readiness probe itself is the retry, and a fast answer beats a late one.
    this.client = createS3Client(options.config, { maxAttempts: 1 });
  }

  /** `{ [key]: { status, bucket, endpoint, ... } }` for a terminus health check; `bucket` defaults to the configured one. */
  async isHealthy<const Key extends string = 's3'>(
    key: Key = 's3' as Key,
    bucket: string = this.bucket,
  ): Promise<HealthIndicatorResult<Key>> {
    const session = this.indicators.check(key);
    const what = `S3 bucket '${bucket}' at ${this.endpoint}`;
    const abort = new AbortController();
    const started = performance.now();
    try {
      await raceTimeout(
        this.client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: abort.signal }),
        this.timeoutMs,
        what,
      );
      return session.up({
        bucket,
        endpoint: this.endpoint,
        responseTimeMs: Math.round(performance.now() - started),
      });
    } catch (error) {
      if (error instanceof TimeoutError) abort.abort();
      return session.down({ bucket, endpoint: this.endpoint, message: this.reason(error, bucket, what) });
    }
  }

  onApplicationShutdown(): void {
    this.client.destroy();
  }

  private reason(error: unknown, bucket: string, what: string): string {
    if (error instanceof TimeoutError) return error.message;
    const status = (error as Partial<S3ServiceException> | undefined)?.$metadata?.httpStatusCode;
    if (status === 404) return `S3 bucket '${bucket}' does not exist at ${this.endpoint}`;
    if (status === 403)
      return `access to S3 bucket '${bucket}' at ${this.endpoint} is denied (check the credentials)`;
    return `${what}: ${describeError(error)}`;
  }
}
