/**
 * The Kafka error codes the group and transaction protocols act on (Kafka protocol guide, "Error
 * Codes"), by name.
 */
export const KAFKA_ERRORS = {
  REQUEST_TIMED_OUT: 7,
  COORDINATOR_LOAD_IN_PROGRESS: 14,
  COORDINATOR_NOT_AVAILABLE: 15,
  NOT_COORDINATOR: 16,
  ILLEGAL_GENERATION: 22,
  UNKNOWN_MEMBER_ID: 25,
  REBALANCE_IN_PROGRESS: 27,
  INVALID_PRODUCER_EPOCH: 47,
  INVALID_TXN_STATE: 48,
  INVALID_PRODUCER_ID_MAPPING: 49,
  CONCURRENT_TRANSACTIONS: 51,
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  OPERATION_NOT_ATTEMPTED: 55,
  MEMBER_ID_REQUIRED: 79,
  FENCED_INSTANCE_ID: 82,
  UNSTABLE_OFFSET_COMMIT: 88,
  PRODUCER_FENCED: 90,
} as const;

/** The name of a Kafka error code, or `error <code>` for one not listed. */
export function kafkaErrorName(code: number): string {
  return Object.entries(KAFKA_ERRORS).find(([, value]) => value === code)?.[0] ?? `error ${code}`;
}

/** The coordinator moved or is loading: find it again and ask again. */
export const COORDINATOR_MOVED: ReadonlySet<number> = new Set<number>([
  KAFKA_ERRORS.COORDINATOR_LOAD_IN_PROGRESS,
  KAFKA_ERRORS.COORDINATOR_NOT_AVAILABLE,
  KAFKA_ERRORS.NOT_COORDINATOR,
]);
