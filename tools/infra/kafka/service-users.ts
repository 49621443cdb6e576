/**
 * Creates one SCRAM user per service on the local broker and gives each exactly the ACLs of
 * `SERVICE_KAFKA_ACCESS` (libs/contracts), over the operator's PLAINTEXT listener. Run by
 * tools/infra/up once the broker answers; idempotent (a second run adds and removes no ACL).
 *
 *   KAFKA_ADMIN_BROKERS=127.0.0.1:9092 KAFKA_SERVICE_USERS_FILE=.infra/kafka/service-users.env \
 *     SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/infra/kafka/service-users.ts
 *
 * The passwords live in KAFKA_SERVICE_USERS_FILE as `KAFKA_USER_<SERVICE>_PASSWORD=<secret>` lines
 * (service name upper-cased, `-` as `_`): a missing one is generated at random and added, existing
 * ones are kept, the file is readable by its owner only. tools/infra/up copies the lines to .infra/env.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { KAFKA_SERVICES, kafkaAclsOf, type KafkaService } from '@tributary/contracts';
import {
  ClusterAdmin,
  hasKafkaErrorCode,
  kafkaConnection,
  parseKafkaEnv,
  rootCauses,
} from '@tributary/kafka';

/** The broker runs without an authorizer. */
const SECURITY_DISABLED = 54;

export const passwordVariableOf = (service: KafkaService): string =>
  `KAFKA_USER_${service.toUpperCase().replace(/-/g, '_')}_PASSWORD`;

const required = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

/** The services' passwords from the file, generating (and saving) the missing ones. */
function servicePasswords(file: string): Map<KafkaService, string> {
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [];
  const saved = new Map(
    lines
      .filter((line) => /^[A-Z0-9_]+=\S+$/.test(line))
      .map((line) => line.split('=', 2) as [string, string]),
  );
  const passwords = new Map<KafkaService, string>();
  for (const service of KAFKA_SERVICES) {
    passwords.set(service, saved.get(passwordVariableOf(service)) ?? randomBytes(24).toString('base64url'));
  }
  const text = [
    '# Kafka SCRAM passwords of the services on the local broker (tools/infra/kafka/service-users.ts). Never commit.',
    ...KAFKA_SERVICES.map((service) => `${passwordVariableOf(service)}=${passwords.get(service)}`),
    '',
  ].join('\n');
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) {
    writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
  chmodSync(file, 0o600);
  return passwords;
}

async function main(): Promise<void> {
  const brokers = required('KAFKA_ADMIN_BROKERS');
  const passwords = servicePasswords(required('KAFKA_SERVICE_USERS_FILE'));
  const admin = new ClusterAdmin(
    kafkaConnection(
      parseKafkaEnv({ KAFKA_BROKERS: brokers, KAFKA_REQUEST_TIMEOUT_MS: '20s' }),
      'tributary-infra',
    ),
  );
  try {
    const report: string[] = [];
    for (const [service, password] of passwords) {
      await admin.setScramCredentials(service, password);
      const changes = await admin.setAcls(`User:${service}`, kafkaAclsOf(service));
      report.push(
        `${service} (${changes.created + changes.unchanged} ACL entries${changes.created + changes.deleted > 0 ? `, ${changes.created} added, ${changes.deleted} removed` : ''})`,
      );
    }
    console.log(`[infra] kafka: service users ${report.join(', ')}`);
  } finally {
    await admin.close();
  }
}

main().catch((error: unknown) => {
  const why = hasKafkaErrorCode(error, SECURITY_DISABLED)
    ? 'the running broker has no authorizer (it was started before authorization was configured); restart it: tools/infra/down kafka && tools/infra/up kafka'
    : rootCauses(error).join('; ');
  console.error(`tools/infra/up: error: kafka service users: ${why}`);
  process.exit(1);
});
