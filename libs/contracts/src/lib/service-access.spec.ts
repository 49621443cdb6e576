import { CATALOG, isTopicName, TOPIC_NAMES } from './catalog';
import { dlqTopicOf } from './headers';
import {
  KAFKA_SERVICES,
  kafkaAclsOf,
  producedTopicSpecs,
  producersOf,
  SERVICE_KAFKA_ACCESS,
  type KafkaAcl,
  type KafkaService,
} from './service-access';

const allowed = (service: KafkaService, type: KafkaAcl['resource']['type'], name: string) =>
  kafkaAclsOf(service)
    .filter(
      ({ resource }) =>
        resource.type === type &&
        (resource.patternType === 'literal' ? resource.name === name : name.startsWith(resource.name)),
    )
    .flatMap((acl) => acl.operations);

describe('service Kafka access', () => {
  it.each(KAFKA_SERVICES)(
    '%s names only catalog topics, and DLQs only of topics that have one',
    (service) => {
      const access = SERVICE_KAFKA_ACCESS[service];
      for (const topic of [...access.produces, ...access.consumes, ...access.deadLetters]) {
        expect({ service, topic, inCatalog: isTopicName(topic) }).toEqual({
          service,
          topic,
          inCatalog: true,
        });
      }
      for (const topic of access.deadLetters) {
        expect({ service, topic, hasDlq: CATALOG[topic].dlq }).toEqual({ service, topic, hasDlq: true });
      }
      for (const topic of access.stateTopics ?? []) {
        expect({ service, stateTopic: topic, inCatalog: isTopicName(topic) }).toEqual({
          service,
          stateTopic: topic,
          inCatalog: false,
        });
      }
    },
  );

  it.each(TOPIC_NAMES)('catalog topic %s has a service that writes it', (topic) => {
    expect(producersOf(topic)).not.toEqual([]);
  });

  it('each service writes exactly its own outputs: the collector may not write alerts, the gateway may not write rules', () => {
    expect(allowed('options-collector', 'topic', 'options.quotes')).toContain('Write');
    expect(allowed('options-collector', 'topic', 'cep.alerts')).toEqual([]);
    expect(allowed('kafka-gateway', 'topic', 'cep.rules')).not.toContain('Write');
    expect(allowed('cep-engine', 'topic', 'cep.rules')).toEqual(expect.arrayContaining(['Read', 'Write']));
    expect(allowed('cep-engine', 'topic', 'market.trades')).not.toContain('Write');
  });

  it('consumer groups and transactional ids follow the services’ KAFKA_GROUP_ID defaults and derived ids', () => {
    for (const group of [
      'tributary-kafka-gateway',
      'tributary-kafka-gateway-enrichment',
      'tributary-kafka-gateway-quality',
      'tributary-kafka-gateway-candles',
    ]) {
      expect(allowed('kafka-gateway', 'group', group)).toContain('Read');
    }
    expect(allowed('cep-engine', 'group', 'tributary-cep-engine.global')).toContain('Read');
    expect(allowed('cep-engine', 'transactionalId', 'tributary-cep-engine.p3')).toContain('Write');
    expect(allowed('historical-data-manager', 'group', 'tributary-historical-data-manager')).toContain(
      'Read',
    );
    expect(allowed('historical-data-manager', 'group', 'tributary-cep-engine')).toEqual([]);
  });

  it('change topics are written by the CDC listener alone, read by the engine and the archive', () => {
    expect(producersOf('cdc.trading.orders')).toEqual(['cdc-listener']);
    expect(allowed('cep-engine', 'topic', 'cdc.trading.positions')).toEqual(['Read', 'Describe']);
    expect(allowed('cep-engine', 'topic', 'cdc.trading.positions.dlq')).toContain('Write');
  });

  it('the gateway applies the catalog: it may alter the configs and partitions of every catalog topic and DLQ', () => {
    for (const topic of TOPIC_NAMES.flatMap((name) =>
      CATALOG[name].dlq ? [name, dlqTopicOf(name)] : [name],
    )) {
      expect({ topic, operations: allowed('kafka-gateway', 'topic', topic) }).toEqual({
        topic,
        operations: expect.arrayContaining(['Create', 'Alter', 'DescribeConfigs', 'AlterConfigs']),
      });
    }
  });

  it('lists each resource once, its operations without repeats', () => {
    for (const service of KAFKA_SERVICES) {
      const acls = kafkaAclsOf(service);
      const keys = acls.map(({ resource }) => `${resource.type}:${resource.patternType}:${resource.name}`);
      expect(new Set(keys).size).toBe(keys.length);
      for (const acl of acls) expect(new Set(acl.operations).size).toBe(acl.operations.length);
    }
  });

  it('the topics a service may create at start-up are the ones it writes and their DLQs', () => {
    expect(producedTopicSpecs('options-collector').map((spec) => spec.topic)).toEqual(
      [
        'market.quotes',
        'market.trades',
        'options.quotes',
        'options.trades',
        'options.chains',
        'options.flow',
      ].flatMap((topic) => [topic, dlqTopicOf(topic)]),
    );
  });
});
