import pino from 'pino';
import { CATALOG, type KafkaService } from '@tributary/contracts';
import { parseEnv } from '@tributary/config';
import { eventually } from '@tributary/testing';
import { quietLogger, testConnection, TopicFollower, uniqueName } from '../testing/kafka-test-kit';
import { ClusterAdmin } from './cluster-admin';
import { ManagedConsumer } from './consumer/managed-consumer';
import { kafkaConnection, type KafkaConnection } from './kafka-connection';
import { kafkaEnv } from './kafka-env';
import { ensureTopics } from './topics';
import { TypedProducer } from './producer/typed-producer';

/**
 * The local broker's service users (tools/infra/kafka/service-users.ts) on the SASL listener: each
 * may do exactly what SERVICE_KAFKA_ACCESS grants it.
 */
function serviceConnection(service: KafkaService): KafkaConnection {
  const variable = `KAFKA_USER_${service.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
  const password = process.env[variable];
  if (!password) throw new Error(`${variable} is not set: load .infra/env written by tools/infra/up`);
  return kafkaConnection(
    parseEnv(kafkaEnv, {
      KAFKA_BROKERS: process.env['KAFKA_SASL_BROKERS'] ?? '127.0.0.1:9094',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: service,
      KAFKA_SASL_PASSWORD: password,
    }),
    `${service}-acl-it`,
  );
}

const producerOf = (service: KafkaService) =>
  new TypedProducer(serviceConnection(service), { service, logger: quietLogger() });

describe('service Kafka users and their ACLs', () => {
  const operator = new ClusterAdmin(testConnection());
  const groups: string[] = [];

  beforeAll(async () => {
    // Catalog topics, as the gateway creates them; the operator's listener may create anything.
    await ensureTopics(testConnection(), [
      CATALOG['market.quotes'],
      CATALOG['signals.technical'],
      CATALOG['cep.alerts'],
      CATALOG['cep.rules'],
    ]);
  });

  afterAll(async () => {
    await operator.deleteGroups(groups).catch(() => undefined);
    await operator.close();
  });

  it('the collector writes the quotes it owns and reads them back over SCRAM', async () => {
    const follower = await TopicFollower.start(serviceConnection('options-collector'), ['market.quotes'], {
      from: 'latest',
    });
    const producer = producerOf('options-collector');
    const key = uniqueName('acl-it-quote');
    try {
      await producer.sendRaw('market.quotes', [{ key, value: JSON.stringify({ probe: key }) }]);
      await eventually(
        () => follower.of('market.quotes').some((record) => record.key === key),
        `the collector to read back ${key}`,
      );
    } finally {
      await producer.disconnect();
      await follower.stop();
    }
  });

  it('the gateway reads a topic it consumes in a consumer group of its own, committing its offsets', async () => {
    const groupId = uniqueName('tributary-kafka-gateway-acl-it');
    groups.push(groupId);
    const seen: string[] = [];
    const consumer = new ManagedConsumer(serviceConnection('kafka-gateway'), {
      groupId,
      topics: ['signals.technical'],
      fromBeginning: false,
      handle: async (batch) => {
        for (const record of batch.records) seen.push(record.key?.toString() ?? '');
      },
      logger: quietLogger(),
    });
    const producer = producerOf('kafka-gateway');
    const key = uniqueName('acl-it-signal');
    try {
      await consumer.start();
      await producer.sendRaw('signals.technical', [{ key, value: JSON.stringify({ probe: key }) }]);
      await eventually(() => seen.includes(key), `the gateway's group to read ${key}`);
      await eventually(
        async () =>
          ((await operator.committedOffsets(groupId, ['signals.technical'])).get('signals.technical')?.size ??
            0) > 0,
        `${groupId} to commit its offsets`,
      );
    } finally {
      await producer.disconnect();
      await consumer.stop();
    }
  });

  it('the collector may not write the alerts topic: the send fails naming its user and the topic', async () => {
    const producer = producerOf('options-collector');
    try {
      await expect(producer.sendRaw('cep.alerts', [{ key: 'k', value: '{}' }])).rejects.toThrow(
        /User:options-collector is not authorized to write topic cep\.alerts \(TOPIC_AUTHORIZATION_FAILED\)/,
      );
    } finally {
      await producer.disconnect();
    }
  });

  it('the gateway may read the rules topic but not write it', async () => {
    const producer = producerOf('kafka-gateway');
    try {
      await expect(producer.sendRaw('cep.rules', [{ key: 'k', value: '{}' }])).rejects.toThrow(
        /User:kafka-gateway is not authorized to write topic cep\.rules \(TOPIC_AUTHORIZATION_FAILED\)/,
      );
    } finally {
      await producer.disconnect();
    }
  });

  it("a service may not join another service's consumer group: the consumer says so while it keeps trying", async () => {
    const consumer = new ManagedConsumer(serviceConnection('historical-data-manager'), {
      groupId: 'tributary-cep-engine',
      topics: ['cep.alerts'],
      handle: async () => undefined,
      // the refusal it logs on every attempt is what this test expects
      logger: pino({ level: 'error' }),
    });
    const starting = consumer.start();
    try {
      await eventually(
        () =>
          /User:historical-data-manager is not authorized to join consumer group tributary-cep-engine \(GROUP_AUTHORIZATION_FAILED\)/.test(
            consumer.lastError ?? '',
          ),
        `the consumer to report the refused group (last error: ${consumer.lastError})`,
      );
      expect(consumer.status).not.toBe('group-joined');
    } finally {
      await consumer.stop();
      await starting.catch(() => undefined);
    }
  });
});
