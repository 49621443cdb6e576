/** Injection token of the pino logger the Kafka module logs with. */
export const KAFKA_LOGGER = Symbol('tributary.kafkaLogger');
