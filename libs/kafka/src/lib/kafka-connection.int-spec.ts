import { Kafka, KafkaJSError } from 'kafkajs';
import { ConfigError, parseEnv } from '@tributary/config';
import { quietLogger, readRecords, testKafka, TestTopics, uniqueName } from '../testing/kafka-test-kit';
import { createKafka, kafkaClientConfig } from './kafka-client';
import { kafkaConnection } from './kafka-connection';
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

describe('Kafka client from the environment', () => {
  const topics = new TestTopics(testKafka());

  afterAll(() => topics.cleanup());

  async function roundTrip(variables: Record<string, string>, topic: string): Promise<void> {
    const config = parseEnv(kafkaEnv, variables);
    const kafka = createKafka(config, 'kafka-it', quietLogger());
    const producer = new TypedProducer(kafkaConnection(config, 'kafka-it'), { service: 'kafka-it', logger: quietLogger() });
    try {
      await producer.sendRaw(topic, [{ key: 'k', value: JSON.stringify({ via: variables['KAFKA_SASL_MECHANISM'] }) }]);
      const [record] = await readRecords(kafka, topic, 1);
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

  it('a wrong password is refused with an error naming authentication', async () => {
    const kafka = createKafka(
      parseEnv(kafkaEnv, {
        KAFKA_BROKERS: saslBrokers(),
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: username(),
        KAFKA_SASL_PASSWORD: 'not-the-password',
      }),
      'kafka-it',
      quietLogger(),
    );
    const admin = kafka.admin({ retry: { retries: 0 } });
    const error = await admin.connect().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    await admin.disconnect();
    expect(error).toBeInstanceOf(KafkaJSError);
    expect(String((error as Error).message)).toMatch(/authentication/i);
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

  it('a TLS client without the CA refuses the broker certificate', async () => {
    const config = tlsWithoutCa();
    // kafkajs retries certificate errors like any connection error: one attempt is enough here.
    const kafka = new Kafka({ ...kafkaClientConfig(config, 'kafka-it', quietLogger()), retry: { retries: 0 } });
    const admin = kafka.admin({ retry: { retries: 0 } });
    const error = await admin.connect().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    await admin.disconnect();
    expect(String((error as Error | undefined)?.message)).toMatch(/certificate/i);
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
      createKafka(
        parseEnv(kafkaEnv, { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: username() }),
        'kafka-it',
        quietLogger(),
      ),
    ).toThrow(/KAFKA_SASL_PASSWORD: is required when KAFKA_SASL_MECHANISM=scram-sha-256/);
  });
});
