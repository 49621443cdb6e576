import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import {
  allTopicSpecs,
  CHANGE_TOPIC_PREFIX,
  KAFKA_SERVICES,
  kafkaAclsOf,
  SERVICE_KAFKA_ACCESS,
} from '@tributary/contracts';
import {
  generatedKafkaFiles,
  KAFKA_CLUSTER,
  type KafkaTopicResource,
  type KafkaUserResource,
} from './generate-kafka-resources';

const root = join(__dirname, '..', '..');
const REGENERATE =
  'SWC_NODE_PROJECT=tsconfig.base.json node -r @swc-node/register tools/k8s/generate-kafka-resources.ts';

function committedObjects<T>(path: string): T[] {
  return parseAllDocuments(readFileSync(join(root, path), 'utf8')).map((document) => {
    expect(document.errors).toEqual([]);
    return document.toJS() as T;
  });
}

describe('the Strimzi resources in k8s/kafka/', () => {
  it.each(Object.entries(generatedKafkaFiles()))(
    '%s is what the generator writes from the catalog and the services’ access today',
    (path, generated) => {
      const committed = readFileSync(join(root, path), 'utf8');
      if (committed !== generated) {
        throw new Error(`${path} is out of date with libs/contracts; regenerate it: ${REGENERATE}`);
      }
    },
  );

  it('have one KafkaTopic of the cluster for every catalog topic and dead-letter topic, with its partitions and configs', () => {
    const topics = committedObjects<KafkaTopicResource>('k8s/kafka/topics.yaml');
    expect(topics.map((topic) => topic.metadata.name)).toEqual(allTopicSpecs().map((spec) => spec.topic));
    for (const topic of topics) {
      expect(topic.apiVersion).toBe('kafka.strimzi.io/v1beta2');
      expect(topic.metadata.labels['strimzi.io/cluster']).toBe(KAFKA_CLUSTER);
      expect(topic.spec.replicas).toBe(3);
    }
    const quotes = topics.find((topic) => topic.metadata.name === 'market.quotes');
    expect(quotes?.spec).toEqual({
      partitions: 12,
      replicas: 3,
      config: {
        'retention.ms': '3600000',
        'cleanup.policy': 'delete',
        'compression.type': 'lz4',
        'segment.ms': '900000',
      },
    });
  });

  it('have one SCRAM-SHA-512 KafkaUser per service, named after it, with exactly its ACLs in Strimzi’s schema', () => {
    const users = committedObjects<KafkaUserResource>('k8s/kafka/users.yaml');
    expect(users.map((user) => user.metadata.name)).toEqual([...KAFKA_SERVICES]);
    for (const user of users) {
      expect(user.metadata.labels['strimzi.io/cluster']).toBe(KAFKA_CLUSTER);
      expect(user.spec.authentication).toEqual({ type: 'scram-sha-512' });
      expect(user.spec.authorization.type).toBe('simple');
      const service = user.metadata.name as (typeof KAFKA_SERVICES)[number];
      expect(user.spec.authorization.acls).toEqual(
        kafkaAclsOf(service).map((acl) => ({
          resource: { ...acl.resource },
          operations: [...acl.operations],
        })),
      );
      for (const rule of user.spec.authorization.acls) {
        expect(['topic', 'group', 'transactionalId', 'cluster']).toContain(rule.resource.type);
        expect(['literal', 'prefix']).toContain(rule.resource.patternType);
        expect(rule.operations.length).toBeGreaterThan(0);
      }
    }
  });

  it('give no service a topic that neither a KafkaTopic creates nor the service itself owns', () => {
    const topics = new Set(
      committedObjects<KafkaTopicResource>('k8s/kafka/topics.yaml').map((topic) => topic.metadata.name),
    );
    const missing: string[] = [];
    for (const user of committedObjects<KafkaUserResource>('k8s/kafka/users.yaml')) {
      const access = SERVICE_KAFKA_ACCESS[user.metadata.name as (typeof KAFKA_SERVICES)[number]];
      // Created by the services themselves: their state topics, and the change topics cdc.<schema>.<table>
      // (with their DLQs), which the CDC service creates per captured table.
      const ownTopics = new Set(access.stateTopics ?? []);
      for (const rule of user.spec.authorization.acls) {
        if (rule.resource.type !== 'topic') continue;
        const name = rule.resource.name ?? '';
        if (rule.resource.patternType === 'prefix') {
          expect(name).toBe(CHANGE_TOPIC_PREFIX);
          continue;
        }
        if (topics.has(name) || ownTopics.has(name)) continue;
        if (name.startsWith(CHANGE_TOPIC_PREFIX) && access.consumesChangeTopics) continue;
        missing.push(`${user.metadata.name}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('go to the Kafka cluster’s namespace through their own kustomization', () => {
    const kustomization = parse(readFileSync(join(root, 'k8s/kafka/kustomization.yaml'), 'utf8'));
    expect(kustomization).toMatchObject({ namespace: 'kafka', resources: ['topics.yaml', 'users.yaml'] });
  });
});
