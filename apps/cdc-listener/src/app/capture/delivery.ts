import type { AuditTrailWriter } from '../audit/audit-trail-writer';
import type { ChangePublisher } from './change-publisher';
import type { CapturedTransaction, TransactionChunk } from './transaction-assembler';

export interface TransactionDelivery {
  readonly deliver: (transaction: CapturedTransaction) => Promise<void>;
  readonly deliverChunk: (chunk: TransactionChunk) => Promise<void>;
}

/**
 * How a captured transaction reaches Kafka and the audit trail. Both writes start together and the
 * change stream confirms the position only once both are done: the audit insert is not on the
 * path to Kafka, and a crash before both finished sends the transaction again (Kafka consumers drop
 * it by its dedup key, the audit trail by `ON CONFLICT` on the same key). `onKafkaAck` is called
 * when Kafka has acknowledged all of a transaction.
 */
export function deliveryOf(
  publisher: ChangePublisher,
  audit: AuditTrailWriter | null,
  onKafkaAck?: (transaction: CapturedTransaction) => void,
): TransactionDelivery {
  return {
    deliver: (transaction) => {
      let kafka = publisher.publish(transaction);
      if (onKafkaAck) kafka = kafka.then(() => onKafkaAck(transaction));
      if (!audit) return kafka;
      return Promise.all([kafka, audit.record(transaction, transaction.changes)]).then(() => undefined);
    },
    deliverChunk: (chunk) => {
      const kafka = publisher.publishChunk(chunk);
      if (!audit) return kafka;
      return Promise.all([kafka, audit.record(chunk.transaction, chunk.changes)]).then(() => undefined);
    },
  };
}
