import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@tributary/config';
import { parseKafkaEnv } from './kafka-env';

function issuesOf(source: Record<string, string>): { variable: string; message: string }[] {
  try {
    parseKafkaEnv(source);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
}

describe('kafkaEnv', () => {
  it('defaults to the local plaintext broker without SASL or TLS', () => {
    const config = parseKafkaEnv({});
    expect(config.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(config.KAFKA_SASL_MECHANISM).toBe('none');
    expect(config.KAFKA_TLS).toBe(false);
    expect(config.KAFKA_REPLICATION_FACTOR).toBe(1);
    expect(config.KAFKA_PRODUCER_LINGER_MS).toBe(5);
    expect(config.KAFKA_HANDLER_MAX_ATTEMPTS).toBe(5);
  });

  it('rejects KAFKA_SASL_MECHANISM=scram-sha-256 without a password, naming the variable', () => {
    const issues = issuesOf({ KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'tributary' });
    expect(issues).toEqual([
      { variable: 'KAFKA_SASL_PASSWORD', message: 'is required when KAFKA_SASL_MECHANISM=scram-sha-256' },
    ]);
  });

  it('rejects a SASL mechanism without user name and password, naming both', () => {
    const issues = issuesOf({ KAFKA_SASL_MECHANISM: 'scram-sha-512' });
    expect(issues.map((issue) => issue.variable)).toEqual(['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']);
  });

  it('ignores credentials while KAFKA_SASL_MECHANISM=none (one env file may serve several listeners)', () => {
    expect(issuesOf({ KAFKA_SASL_USERNAME: 'tributary', KAFKA_SASL_PASSWORD: 'secret' })).toEqual([]);
  });

  it('rejects an unknown mechanism and a broker without port, naming each variable', () => {
    try {
      parseKafkaEnv({ KAFKA_SASL_MECHANISM: 'kerberos', KAFKA_BROKERS: 'broker-without-port' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const variables = (error as ConfigError).issues.map((issue) => issue.variable);
      expect(variables).toEqual(['KAFKA_BROKERS', 'KAFKA_SASL_MECHANISM']);
    }
  });

  it('with KAFKA_TLS=true, refuses a KAFKA_TLS_CA_FILE that does not exist', () => {
    expect(issuesOf({ KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem' })).toEqual([]);
    expect(issuesOf({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: '/nonexistent/ca.pem' })).toEqual([
      { variable: 'KAFKA_TLS_CA_FILE', message: 'file not found: /nonexistent/ca.pem' },
    ]);
    const ca = join(mkdtempSync(join(tmpdir(), 'kafka-env-')), 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    expect(issuesOf({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: ca })).toEqual([]);
  });

  it('accepts a full SCRAM over TLS configuration', () => {
    const config = parseKafkaEnv({
      KAFKA_BROKERS: 'kafka-0.kafka:9095, kafka-1.kafka:9095',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'tributary',
      KAFKA_SASL_PASSWORD: 'tributary-secret',
      KAFKA_TLS: 'true',
      KAFKA_REQUEST_TIMEOUT_MS: '10s',
    });
    expect(config.KAFKA_BROKERS).toEqual(['kafka-0.kafka:9095', 'kafka-1.kafka:9095']);
    expect(config.KAFKA_REQUEST_TIMEOUT_MS).toBe(10_000);
  });
});
