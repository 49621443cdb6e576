import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { BaseOptions, Broker, SASLOptions } from '@platformatic/kafka';
import { assertKafkaConfig, type KafkaEnvConfig } from './kafka-env';

/**
 * How a Tributary client reaches the cluster: everything a connection needs, derived once from the
 * service's validated configuration ({@link kafkaConnection}) and shared by its producers,
 * consumers and admin calls.
 */
export interface KafkaConnection {
  readonly clientId: string;
  /** Bootstrap brokers, host:port. */
  readonly brokers: readonly string[];
  readonly sasl?: SASLOptions;
  readonly tls?: TlsOptions;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /**
   * Where to dial a broker the cluster names in its metadata. The brokers advertise their own
   * addresses; behind a port-forward, a NAT or a test's TCP hop the reachable address differs.
   * Called for every connection a client opens.
   */
  readonly brokerAddress?: (broker: Broker) => Broker;
}

function saslOf(config: KafkaEnvConfig): SASLOptions | undefined {
  const username = config.KAFKA_SASL_USERNAME ?? '';
  const password = config.KAFKA_SASL_PASSWORD ?? '';
  switch (config.KAFKA_SASL_MECHANISM) {
    case 'none':
      return undefined;
    case 'plain':
      return { mechanism: 'PLAIN', username, password };
    case 'scram-sha-256':
      return { mechanism: 'SCRAM-SHA-256', username, password };
    case 'scram-sha-512':
      return { mechanism: 'SCRAM-SHA-512', username, password };
  }
}

function tlsOf(config: KafkaEnvConfig): TlsOptions | undefined {
  if (!config.KAFKA_TLS) return undefined;
  const tls: TlsOptions = { rejectUnauthorized: config.KAFKA_TLS_REJECT_UNAUTHORIZED };
  if (config.KAFKA_TLS_CA_FILE) tls.ca = [readFileSync(config.KAFKA_TLS_CA_FILE, 'utf8')];
  return tls;
}

/**
 * The connection settings of a service's configuration (brokers, SASL, TLS, timeouts). Throws a
 * ConfigError naming the variables when they do not fit together; reads the CA file now, so a
 * missing one fails at start-up.
 */
export function kafkaConnection(config: KafkaEnvConfig, service: string): KafkaConnection {
  assertKafkaConfig(config);
  return {
    clientId: config.KAFKA_CLIENT_ID ?? service,
    brokers: [...config.KAFKA_BROKERS],
    sasl: saslOf(config),
    tls: tlsOf(config),
    connectionTimeoutMs: config.KAFKA_CONNECTION_TIMEOUT_MS,
    requestTimeoutMs: config.KAFKA_REQUEST_TIMEOUT_MS,
  };
}

/**
 * The options of a @platformatic/kafka client for a connection. Request retries stay with the
 * caller (the producer retries whole batches with their sequence numbers), so the client itself
 * retries only its metadata and coordinator lookups, a few times.
 */
export function clientOptionsOf(connection: KafkaConnection): BaseOptions {
  return {
    clientId: connection.clientId,
    bootstrapBrokers: [...connection.brokers],
    sasl: connection.sasl,
    tls: connection.tls,
    connectTimeout: connection.connectionTimeoutMs,
    requestTimeout: connection.requestTimeoutMs,
    timeout: connection.requestTimeoutMs,
    retries: 3,
    retryDelay: 250,
  };
}

interface BrokerPool {
  get(broker: Broker, callback?: unknown): unknown;
  getFirstAvailable(brokers: Broker[], callback?: unknown): unknown;
}

/**
 * Makes a client dial every broker where `connection.brokerAddress` says. The client opens all its
 * connections through its pool's `get` and `getFirstAvailable`; they see the rewritten address.
 */
export function applyBrokerAddress<C extends { connections: unknown }>(client: C, connection: KafkaConnection): C {
  const rewrite = connection.brokerAddress;
  if (rewrite === undefined) return client;
  const pool = client.connections as BrokerPool;
  const get = pool.get.bind(pool);
  const getFirstAvailable = pool.getFirstAvailable.bind(pool);
  pool.get = (broker, callback) => get(rewrite(broker), callback);
  pool.getFirstAvailable = (brokers, callback) => getFirstAvailable(brokers.map(rewrite), callback);
  return client;
}

/**
 * The innermost reasons of a client error, without repeats: @platformatic/kafka nests them
 * (retries of an operation, each failed broker, each connection's cause), and what a person needs
 * is at the bottom ("SASL authentication failed.", "self-signed certificate in certificate chain").
 */
export function rootCauses(error: unknown): string[] {
  const found = new Set<string>();
  const visit = (current: unknown, depth: number): void => {
    if (!(current instanceof Error) || depth > 12) {
      if (current !== undefined && !(current instanceof Error)) found.add(String(current));
      return;
    }
    const nested = [
      ...((current as { errors?: unknown[] }).errors ?? []),
      ...(current.cause === undefined ? [] : [current.cause]),
    ];
    if (nested.length === 0) found.add(current.message);
    for (const inner of nested) visit(inner, depth + 1);
  };
  visit(error, 0);
  return [...found];
}

/** A client error turned into one naming the brokers and what went wrong underneath (the original is its cause). */
export function connectionError(connection: KafkaConnection, what: string, error: unknown): Error {
  const reasons = rootCauses(error).join('; ');
  return new Error(`${what} at ${connection.brokers.join(',')} failed: ${reasons}`, { cause: error });
}

/** The Kafka error codes of a request its principal's ACLs do not allow, by name. */
const AUTHORIZATION_FAILURES: ReadonlyMap<number, string> = new Map([
  [29, 'TOPIC_AUTHORIZATION_FAILED'],
  [30, 'GROUP_AUTHORIZATION_FAILED'],
  [31, 'CLUSTER_AUTHORIZATION_FAILED'],
  [53, 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'],
]);

/** The name of the authorization failure a client error carries (`TOPIC_AUTHORIZATION_FAILED`...), or undefined. */
export function authorizationFailureOf(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const visit = (current: unknown): string | undefined => {
    if (typeof current !== 'object' || current === null || seen.has(current)) return undefined;
    seen.add(current);
    const code = (current as { apiCode?: unknown }).apiCode;
    if (typeof code === 'number' && AUTHORIZATION_FAILURES.has(code)) return AUTHORIZATION_FAILURES.get(code);
    // A partition's refused batch carries the error's name only
    const id = (current as { apiId?: unknown }).apiId;
    if (typeof id === 'string' && [...AUTHORIZATION_FAILURES.values()].includes(id)) return id;
    const errors = (current as { errors?: unknown }).errors;
    for (const inner of [...(Array.isArray(errors) ? errors : []), (current as { cause?: unknown }).cause]) {
      const found = visit(inner);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return visit(error);
}

/** The principal the brokers see for a connection: its SASL user, or User:ANONYMOUS without SASL. */
export function principalOf(connection: KafkaConnection): string {
  const username = (connection.sasl as { username?: unknown } | undefined)?.username;
  return `User:${typeof username === 'string' && username !== '' ? username : 'ANONYMOUS'}`;
}

/**
 * A request the brokers refused because the connection's principal has no ACL for it: names the
 * principal, what it tried (`write topic cep.alerts`) and Kafka's error; the client error is its cause.
 */
export class KafkaAuthorizationError extends Error {
  constructor(
    readonly principal: string,
    readonly attempted: string,
    readonly failure: string,
    cause: unknown,
  ) {
    super(`${principal} is not authorized to ${attempted} (${failure}); a service's ACLs come from SERVICE_KAFKA_ACCESS in libs/contracts`, { cause });
    this.name = 'KafkaAuthorizationError';
  }
}

/** `error` as a {@link KafkaAuthorizationError} when it is an authorization failure, else `error` itself. */
export function withAuthorizationContext(connection: KafkaConnection, attempted: string, error: unknown): unknown {
  if (error instanceof KafkaAuthorizationError) return error;
  const failure = authorizationFailureOf(error);
  return failure === undefined ? error : new KafkaAuthorizationError(principalOf(connection), attempted, failure, error);
}

/** TLS certificate failures: retrying cannot help. */
const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

/**
 * True when a client error cannot go away by trying again soon: refused credentials, a broker
 * certificate that does not verify, or a request the principal's ACLs do not allow. Anything else
 * (refused or dropped connections, timeouts, leaders moving) may.
 */
export function isPermanentConnectionError(error: unknown): boolean {
  if (authorizationFailureOf(error) !== undefined) return true;
  const seen = new Set<unknown>();
  const visit = (current: unknown): boolean => {
    if (!(current instanceof Error) || seen.has(current)) return false;
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (code === 'PLT_KFK_AUTHENTICATION') return true;
    if (typeof code === 'string' && CERTIFICATE_ERROR.test(code)) return true;
    const nested = [...((current as { errors?: unknown[] }).errors ?? []), current.cause];
    return nested.some(visit);
  };
  return visit(error);
}
