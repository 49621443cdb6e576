import { parseEnv } from '@tributary/config';
import { clientOptionsOf, connectionError, kafkaConnection, rootCauses } from './kafka-connection';
import { kafkaEnv } from './kafka-env';

describe('Kafka connection settings', () => {
  it('carry brokers, SASL mechanism and credentials, TLS and timeouts from the environment', () => {
    const connection = kafkaConnection(
      parseEnv(kafkaEnv, {
        KAFKA_BROKERS: 'kafka-0:9094,kafka-1:9094',
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_USERNAME: 'svc',
        KAFKA_SASL_PASSWORD: 'secret',
        KAFKA_TLS: 'true',
        KAFKA_TLS_REJECT_UNAUTHORIZED: 'false',
        KAFKA_CONNECTION_TIMEOUT_MS: '2s',
        KAFKA_REQUEST_TIMEOUT_MS: '10s',
      }),
      'cep-engine',
    );
    expect(connection).toMatchObject({
      clientId: 'cep-engine',
      brokers: ['kafka-0:9094', 'kafka-1:9094'],
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'svc', password: 'secret' },
      tls: { rejectUnauthorized: false },
      connectionTimeoutMs: 2_000,
      requestTimeoutMs: 10_000,
    });
    expect(clientOptionsOf(connection)).toMatchObject({
      clientId: 'cep-engine',
      bootstrapBrokers: ['kafka-0:9094', 'kafka-1:9094'],
      connectTimeout: 2_000,
      requestTimeout: 10_000,
    });
  });

  it('leave SASL and TLS out when the environment does not ask for them, and take KAFKA_CLIENT_ID over the service name', () => {
    const connection = kafkaConnection(parseEnv(kafkaEnv, { KAFKA_CLIENT_ID: 'desk-7' }), 'cep-engine');
    expect(connection.sasl).toBeUndefined();
    expect(connection.tls).toBeUndefined();
    expect(connection.clientId).toBe('desk-7');
  });

  it('refuse a SASL mechanism without credentials, naming the variables', () => {
    expect(() => kafkaConnection(parseEnv(kafkaEnv, { KAFKA_SASL_MECHANISM: 'plain' }), 'svc')).toThrow(
      /KAFKA_SASL_USERNAME.*KAFKA_SASL_PASSWORD|KAFKA_SASL_PASSWORD.*KAFKA_SASL_USERNAME/s,
    );
  });

  it('errors name the innermost reasons once, however deeply the client nested them', () => {
    const sasl = new Error('SASL authentication failed.');
    const perBroker = new Error('Connection to 10.0.0.1:9094 failed.', { cause: sasl });
    const attempt = new AggregateError([perBroker], 'Cannot connect to any broker.');
    const nested = new AggregateError([attempt, attempt, attempt], 'initProducerId failed 3 times.');
    expect(rootCauses(nested)).toEqual(['SASL authentication failed.']);
    const connection = kafkaConnection(parseEnv(kafkaEnv, { KAFKA_BROKERS: '10.0.0.1:9094' }), 'svc');
    const error = connectionError(connection, 'connecting the producer', nested);
    expect(error.message).toBe('connecting the producer at 10.0.0.1:9094 failed: SASL authentication failed.');
    expect(error.cause).toBe(nested);
  });
});
