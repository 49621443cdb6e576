// Configuration and client
export {
  assertKafkaConfig,
  kafkaConfigIssues,
  kafkaEnv,
  parseKafkaEnv,
  SASL_MECHANISMS,
  type KafkaEnvConfig,
  type SaslMechanismSetting,
} from './lib/kafka-env';
export {
  applyBrokerAddress,
  authorizationFailureOf,
  clientOptionsOf,
  KafkaAuthorizationError,
  kafkaConnection,
  principalOf,
  rootCauses,
  type KafkaConnection,
} from './lib/kafka-connection';

// Topics and cluster administration
export {
  aclEntriesOf,
  ClusterAdmin,
  hasKafkaErrorCode,
  type AclChanges,
  type ClusterAdminOptions,
  type ClusterIdentity,
  type ScramMechanism,
  type PartitionOffsets,
  type TopicConfig,
  type TopicDescription,
} from './lib/cluster-admin';
export {
  deadLetterTopicConfig,
  createMissingTopics,
  ensureTopics,
  topicConfigOf,
  type EnsureTopicsOptions,
  type EnsureTopicsResult,
} from './lib/topics';

// Producing
export {
  compressionOf,
  TypedProducer,
  type EncodedRecord,
  type OutgoingRecord,
  type RawRecord,
  type TypedProducerOptions,
} from './lib/producer/typed-producer';
export { KeyPartitioner, partitionOfKey } from './lib/producer/partitioner';
export { type PartitionRecords, type PartitionWritten } from './lib/producer/batch-producer';
export { type ExtraHeader, HeaderTemplate, RecordBatchWriter } from './lib/producer/record-batch';
export {
  isTransactionFenced,
  TransactionalProducer,
  TransactionError,
  TransactionFencedError,
  type TransactionalProducerOptions,
  type TransactionOffsets,
} from './lib/producer/transactional-producer';

// Consuming
export {
  KafkaBatchServer,
  type CommittedBatch,
  type KafkaBatchServerEvents,
  type KafkaBatchServerOptions,
  type KafkaConsumerHealth,
  type KafkaConsumerStatus,
  type RevokedPartitions,
} from './lib/consumer/kafka-batch-server';
export { KafkaBatchContext, KafkaRecordContext } from './lib/consumer/kafka-record-context';
export {
  IncompleteBatchError,
  ManagedConsumer,
  type ManagedConsumerOptions,
  type ManagedConsumerStatus,
  type PartitionBatch,
} from './lib/consumer/managed-consumer';
export { OffsetLedger, type CommittedRange, type LedgerOffset, type OffsetLedgerOptions } from './lib/consumer/offset-ledger';
export { PauseState, type PausedTopic } from './lib/consumer/pause-state';
export { RecordPipeline, type PipelineBatch, type PipelineProgress, type PipelineRoute } from './lib/consumer/record-pipeline';
export { type FetchedRecord, PartitionFetcher } from './lib/consumer/partition-fetcher';
export { TopicReader, type TopicReaderOptions } from './lib/consumer/topic-reader';
export { LazyRecord, readRecordBatches, recordHeader, recordValueSize, recordValueText } from './lib/consumer/record-batch-reader';
export { GroupSession, type GroupSessionOptions } from './lib/consumer/group-session';
export { type Assignment, type PartitionAssignor, rangeAssignor } from './lib/consumer/group-protocol';
export {
  BatchEventPattern,
  KAFKA_BATCH_HANDLER,
  KAFKA_DEFERRED_COMMIT,
  type BatchEventPatternOptions,
} from './lib/consumer/batch-event-pattern';
export { KafkaHandlerErrorFilter } from './lib/consumer/handler-error-filter';
export { connectKafkaConsumer } from './lib/consumer/connect-kafka-consumer';
export {
  assignWith,
  CO_PARTITION_ASSIGNER,
  coPartitionAssignor,
  coPartitionedAssignment,
} from './lib/consumer/co-partition-assigner';
export { DeadLetterUnavailableError, UnprocessableRecordError } from './lib/consumer/consumer-errors';
export { DEFAULT_RETRY_POLICY, retryDelayMs, retrySchedule, type RetryPolicy } from './lib/retry-policy';
export {
  deadLetterHeaders,
  decodeHeaders,
  headersFromPairs,
  headerValue,
  MAX_REASON_LENGTH,
  type HeaderMap,
  type HeaderPairs,
  type RecordHeaders,
  type DeadLetterFailure,
} from './lib/record-headers';

// Nest module and health
export { KafkaModule } from './lib/kafka.module';
export { KAFKA_CONNECTION, KAFKA_MODULE_OPTIONS, type KafkaModuleOptions } from './lib/kafka.tokens';
export { KAFKA_LOGGER } from './lib/kafka-logger';
export { KafkaHealthIndicator } from './lib/health/kafka-health.indicator';
export { KafkaTopicsState } from './lib/kafka-topics-state';
