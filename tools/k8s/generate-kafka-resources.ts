/**
 * Writes the Strimzi resources of Tributary's Kafka cluster from libs/contracts:
 *
 * - `k8s/kafka/topics.yaml`: one `KafkaTopic` per catalog topic and per dead-letter topic
 *   (`allTopicSpecs()`), with the catalog's partitions and topic configs (`kafkaTopicConfig`);
 * - `k8s/kafka/users.yaml`: one `KafkaUser` per service (`KAFKA_SERVICES`), SCRAM-SHA-512, with the
 *   service's ACLs (`kafkaAclsOf`).
 *
 * Run after changing the catalog or the services' access, and commit the result:
 *
 *   SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/k8s/generate-kafka-resources.ts
 *
 * `generate-kafka-resources.spec.ts` fails while the committed files differ from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  allTopicSpecs,
  KAFKA_SERVICES,
  kafkaAclsOf,
  kafkaTopicConfig,
  type KafkaAcl,
  type KafkaService,
  type TopicSpec,
} from '@tributary/contracts';

/**
 * The `Kafka` resource these belong to: Strimzi's operators act only on resources labelled
 * `strimzi.io/cluster: <name of the Kafka resource>`. Its bootstrap service is then
 * `tributary-kafka-bootstrap.<namespace>.svc` (k8s/README.md, "Kafka with Strimzi").
 */
export const KAFKA_CLUSTER = 'tributary';

/** Every catalog topic is written to three brokers (the services' `KAFKA_REPLICATION_FACTOR` in k8s/). */
export const TOPIC_REPLICAS = 3;

const STRIMZI_API_VERSION = 'kafka.strimzi.io/v1beta2';

const LABELS = {
  'strimzi.io/cluster': KAFKA_CLUSTER,
  'app.kubernetes.io/part-of': 'tributary',
} as const;

/** A Kubernetes object name: a DNS subdomain (lower case, digits, `-` and `.`, at most 253 characters). */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface KafkaTopicResource {
  apiVersion: string;
  kind: 'KafkaTopic';
  metadata: { name: string; labels: Record<string, string> };
  spec: { partitions: number; replicas: number; config: Record<string, string> };
}

export interface KafkaUserResource {
  apiVersion: string;
  kind: 'KafkaUser';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    authentication: { type: 'scram-sha-512' };
    authorization: { type: 'simple'; acls: StrimziAclRule[] };
  };
}

/** Strimzi's `AclRule`: a cluster resource has no name or pattern type; `type` defaults to allow. */
export interface StrimziAclRule {
  resource: { type: string; name?: string; patternType?: string };
  operations: string[];
}

/** The KafkaTopic of one topic; its object name is the topic name, so no `spec.topicName` is needed. */
export function kafkaTopicResource(spec: TopicSpec): KafkaTopicResource {
  if (!OBJECT_NAME.test(spec.topic) || spec.topic.length > 253) {
    throw new RangeError(
      `topic ${spec.topic} is not a valid Kubernetes object name; give its KafkaTopic a spec.topicName`,
    );
  }
  return {
    apiVersion: STRIMZI_API_VERSION,
    kind: 'KafkaTopic',
    metadata: { name: spec.topic, labels: { ...LABELS } },
    spec: {
      partitions: spec.partitions,
      replicas: TOPIC_REPLICAS,
      config: Object.fromEntries(kafkaTopicConfig(spec).map(({ name, value }) => [name, value])),
    },
  };
}

/** Our ACL (already shaped like Strimzi's) as a Strimzi `AclRule`, field by field. */
export function strimziAclRule(acl: KafkaAcl): StrimziAclRule {
  const { type, name, patternType } = acl.resource;
  return {
    resource: type === 'cluster' ? { type } : { type, name, patternType },
    operations: [...acl.operations],
  };
}

/**
 * The KafkaUser of one service, named after it: the principal is `User:<service>`, as
 * SERVICE_KAFKA_ACCESS and the services' `KAFKA_SASL_USERNAME` expect. Strimzi writes its password
 * to the Secret `<service>` in the Kafka namespace (k8s/README.md says how it reaches `<service>-kafka`).
 */
export function kafkaUserResource(service: KafkaService): KafkaUserResource {
  return {
    apiVersion: STRIMZI_API_VERSION,
    kind: 'KafkaUser',
    metadata: { name: service, labels: { ...LABELS } },
    spec: {
      authentication: { type: 'scram-sha-512' },
      authorization: { type: 'simple', acls: kafkaAclsOf(service).map(strimziAclRule) },
    },
  };
}

export function kafkaTopicResources(): KafkaTopicResource[] {
  return allTopicSpecs().map(kafkaTopicResource);
}

export function kafkaUserResources(): KafkaUserResource[] {
  return KAFKA_SERVICES.map(kafkaUserResource);
}

const HEADER = [
  '# Generated from libs/contracts by tools/k8s/generate-kafka-resources.ts: do not edit by hand.',
  '# Regenerate: SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/k8s/generate-kafka-resources.ts',
];

function render(description: string, objects: readonly object[]): string {
  const documents = objects.map((object) => stringify(object, { lineWidth: 0 }));
  return `${[...HEADER, `# ${description}`].join('\n')}\n---\n${documents.join('---\n')}`;
}

/** The text of `k8s/kafka/topics.yaml`. */
export function renderTopicsYaml(): string {
  return render(
    'One KafkaTopic per catalog topic and dead-letter topic (allTopicSpecs, kafkaTopicConfig).',
    kafkaTopicResources(),
  );
}

/** The text of `k8s/kafka/users.yaml`. */
export function renderUsersYaml(): string {
  return render(
    'One KafkaUser per service (SCRAM-SHA-512), with its ACLs (kafkaAclsOf).',
    kafkaUserResources(),
  );
}

/** The generated files, by path from the repository root. */
export function generatedKafkaFiles(): Record<string, string> {
  return {
    'k8s/kafka/topics.yaml': renderTopicsYaml(),
    'k8s/kafka/users.yaml': renderUsersYaml(),
  };
}

if (require.main === module) {
  const root = join(__dirname, '..', '..');
  for (const [path, text] of Object.entries(generatedKafkaFiles())) {
    writeFileSync(join(root, path), text);
    console.log(`wrote ${path}`);
  }
}
