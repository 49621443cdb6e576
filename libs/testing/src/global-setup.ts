import { infra, readInfraEnv } from './lib/infra-env';

/**
 * Jest global setup of every integration suite: makes sure the real local Kafka, PostgreSQL
 * and S3 server are up (idempotent, fast when they already run) and exposes their addresses
 * to the tests through process.env, unless the caller already chose other ones.
 */
export default async function globalSetup(): Promise<void> {
  process.env['TZ'] = 'UTC';
  if (process.env['TRIBUTARY_SKIP_INFRA_UP'] !== 'true') {
    infra('up');
  }
  for (const [key, value] of Object.entries(readInfraEnv())) {
    process.env[key] ??= value;
  }
}
