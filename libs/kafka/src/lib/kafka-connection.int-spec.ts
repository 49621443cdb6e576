import { ConfigError, parseEnv } from '@tributary/config';
import { quietLogger, readRecords, TestTopics, uniqueName } from '../testing/kafka-test-kit';
import { ClusterAdmin } from './cluster-admin';
import { kafkaConnection, rootCauses } from './kafka-connection';
import { kafkaEnv, parseKafkaEnv } from './kafka-env';
import { TypedProducer } from './producer/typed-producer';

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;
const saslBrokers = (): string => env('KAFKA_SASL_BROKERS', '127.0.0.1:9094');
const saslSslBrokers = (): string => env('KAFKA_SASL_SSL_BROKERS', '127.0.0.1:9095');
const username = (): string => env('KAFKA_SASL_USERNAME', 'tributary');
const password = (): string => env('KAFKA_SASL_PASSWORD', 'tributary-secret');

/** The SASL_SSL listener with TLS on but no CA file: the broker's certificate cannot verify. */
const tlsWithoutCa = () =>
  parseEnv(kafkaEnv, {
    KAFKA_BROKERS: saslSslBrokers(),
    KAFKA_SASL_MECHANISM: 'scram-sha-256',
    KAFKA_SASL_USERNAME: username(),
    KAFKA_SASL_PASSWORD: password(),
    KAFKA_TLS: 'true',
  });

describe('Kafka connection from the environment', () => {
  const topics = new TestTopics();

  afterAll(() => topics.cleanup());

  async function roundTrip(variables: Record<string, string>, topic: string): Promise<void> {
    const connection = kafkaConnection(parseEnv(kafkaEnv, variables), 'kafka-it');
    const producer = new TypedProducer(connection, { service: 'kafka-it', logger: quietLogger() });
    try {
      await producer.sendRaw(topic, [{ key: 'k', value: JSON.stringify({ via: variables['KAFKA_SASL_MECHANISM'] }) }]);
      // read back over the same authenticated connection
      const [record] = await readRecords(connection, topic, 1);
      expect(JSON.parse(record.value?.toString() ?? '{}')).toEqual({ via: variables['KAFKA_SASL_MECHANISM'] });
    } finally {
      await producer.disconnect();
    }
  }

  it.each(['scram-sha-256', 'scram-sha-512'])(
    'a %s client authenticates on the SASL listener and produces/consumes',
    async (mechanism) => {
      const topic = await topics.create(uniqueName(`it-${mechanism}`));
      await roundTrip(
        {
          KAFKA_BROKERS: saslBrokers(),
          KAFKA_SASL_MECHANISM: mechanism,
          KAFKA_SASL_USERNAME: username(),
          KAFKA_SASL_PASSWORD: password(),
        },
        topic,
      );
    },
  );

  it('an admin client with a wrong password is refused with an error naming authentication', async () => {
    const config = parseEnv(kafkaEnv, {
      KAFKA_BROKERS: saslBrokers(),
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: username(),
      KAFKA_SASL_PASSWORD: 'not-the-password',
    });
    const admin = new ClusterAdmin(kafkaConnection(config, 'kafka-it'));
    try {
      const error = await admin.listTopics().then(() => undefined, (failure: unknown) => failure);
      expect(rootCauses(error).join('; ')).toMatch(/authentication|SASL/i);
    } finally {
      await admin.close();
    }
  });

  it('a producer with a wrong password is refused with an error naming authentication', async () => {
    const config = parseEnv(kafkaEnv, {
      KAFKA_BROKERS: saslBrokers(),
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: username(),
      KAFKA_SASL_PASSWORD: 'not-the-password',
    });
    const producer = new TypedProducer(kafkaConnection(config, 'kafka-it'), { service: 'kafka-it', logger: quietLogger() });
    try {
      await expect(producer.connect()).rejects.toThrow(/authentication|SASL/i);
    } finally {
      await producer.disconnect();
    }
  });

  it('a SCRAM client connects over TLS on the SASL_SSL listener, trusting the broker through KAFKA_TLS_CA_FILE', async () => {
    const topic = await topics.create(uniqueName('it-sasl-ssl'));
    await roundTrip(
      {
        KAFKA_BROKERS: saslSslBrokers(),
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: username(),
        KAFKA_SASL_PASSWORD: password(),
        KAFKA_TLS: 'true',
        KAFKA_TLS_CA_FILE: env('KAFKA_TLS_CA_FILE', ''),
      },
      topic,
    );
  });

  it('a TLS admin client without the CA refuses the broker certificate', async () => {
    const admin = new ClusterAdmin(kafkaConnection(tlsWithoutCa(), 'kafka-it'));
    try {
      const error = await admin.listTopics().then(() => undefined, (failure: unknown) => failure);
      expect(rootCauses(error).join('; ')).toMatch(/certificate/i);
    } finally {
      await admin.close();
    }
  });

  it('a TLS producer without the CA refuses the broker certificate', async () => {
    const config = tlsWithoutCa();
    const producer = new TypedProducer(kafkaConnection(config, 'kafka-it'), { service: 'kafka-it', logger: quietLogger() });
    try {
      await expect(producer.connect()).rejects.toThrow(/certificate/i);
    } finally {
      await producer.disconnect();
    }
  });

  it('kafkaEnv rejects KAFKA_SASL_MECHANISM=scram-sha-256 without a password', () => {
    expect(() =>
      parseKafkaEnv({ KAFKA_BROKERS: saslBrokers(), KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: username() }),
    ).toThrow(ConfigError);
    expect(() =>
      kafkaConnection(parseEnv(kafkaEnv, { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: username() }), 'kafka-it'),
    ).toThrow(/KAFKA_SASL_PASSWORD: is required when KAFKA_SASL_MECHANISM=scram-sha-256/);
  });
});
