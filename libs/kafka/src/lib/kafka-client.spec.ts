import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import pino from 'pino';
import { parseEnv } from '@tributary/config';
import { kafkaClientConfig, kafkajsLogCreator } from './kafka-client';
import { kafkaEnv } from './kafka-env';

function capture(level = 'debug'): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

describe('Kafka client configuration', () => {
  it('maps SCRAM over TLS settings to the kafkajs client, with the client id defaulting to the service', () => {
    const config = parseEnv(kafkaEnv, {
      KAFKA_BROKERS: 'kafka-0:9095,kafka-1:9095',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'tributary',
      KAFKA_SASL_PASSWORD: 'tributary-secret',
      KAFKA_TLS: 'true',
      KAFKA_TLS_REJECT_UNAUTHORIZED: 'false',
      KAFKA_CONNECTION_TIMEOUT_MS: '4s',
    });
    const client = kafkaClientConfig(config, 'cep-engine', pino({ level: 'silent' }));
    expect(client.clientId).toBe('cep-engine');
    expect(client.brokers).toEqual(['kafka-0:9095', 'kafka-1:9095']);
    expect(client.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'tributary', password: 'tributary-secret' });
    expect(client.ssl).toEqual({ rejectUnauthorized: false });
    expect(client.connectionTimeout).toBe(4_000);
    expect(client.logLevel).toBe(logLevel.NOTHING);
  });

  it('uses plaintext without SASL by default', () => {
    const client = kafkaClientConfig(parseEnv(kafkaEnv, { KAFKA_CLIENT_ID: 'gateway-7' }), 'kafka-gateway', pino());
    expect(client.clientId).toBe('gateway-7');
    expect(client.ssl).toBe(false);
    expect(client.sasl).toBeUndefined();
    expect(client.logLevel).toBe(logLevel.INFO);
  });

  it('routes kafkajs log lines into pino as structured fields', () => {
    const { logger, lines } = capture();
    const log = kafkajsLogCreator(logger)();
    log({
      namespace: 'ConsumerGroup',
      level: logLevel.INFO,
      label: 'INFO',
      log: { timestamp: '2026-01-01T00:00:00.000Z', message: 'Consumer has joined the group', groupId: 'cep-engine', logger: 'kafkajs' },
    });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        component: 'kafkajs',
        namespace: 'ConsumerGroup',
        groupId: 'cep-engine',
        msg: 'Consumer has joined the group',
      }),
    ]);
    expect(lines[0]).not.toHaveProperty('timestamp');
  });

  it('logs retried connection failures as warnings and real failures as errors', () => {
    const { logger, lines } = capture();
    const log = kafkajsLogCreator(logger)();
    const entry = (namespace: string, message: string) => ({
      namespace,
      level: logLevel.ERROR,
      label: 'ERROR',
      log: { timestamp: '', message },
    });
    log(entry('Connection', 'Connection error: connect ECONNREFUSED 127.0.0.1:9092'));
    log(entry('Consumer', 'Crash: KafkaJSNumberOfRetriesExceeded'));
    expect(lines.map((line) => line['level'])).toEqual([40, 50]);
  });
});
