import { type Connection, produceV11, ResponseError, Writer } from '@platformatic/kafka';

/** One partition's record batch of a Produce request, as {@link RecordBatchWriter} wrote it. */
export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly batch: Buffer;
}

/** What the partition leader answered for one batch. */
export interface PartitionOutcome {
  readonly topic: string;
  readonly partition: number;
  /** 0 when the batch was written; a Kafka error code otherwise. */
  readonly errorCode: number;
  readonly errorMessage: string | null;
  /** Offset of the batch's first record (-1 on error). */
  readonly baseOffset: bigint;
}

export interface ProduceRequest {
  /** Set for batches of a transaction (the broker checks it against the producer id). */
  readonly transactionalId?: string | null;
  /** -1 (all in-sync replicas), 1 (leader) or 0 (no answer: not supported here). */
  readonly acks: -1 | 1;
  /** How long the leader may wait for the replicas. */
  readonly timeoutMs: number;
  readonly batches: readonly PartitionBatch[];
}

const PRODUCE = 0;
const VERSION = 11;

/**
 * Produce v11 (flexible) with record batches written beforehand:
 *
 * ```
 * transactional_id COMPACT_NULLABLE_STRING | acks INT16 | timeout_ms INT32 |
 * topic_data [ name COMPACT_STRING | partition_data [ index INT32 | records COMPACT_RECORDS | TAG_BUFFER ] | TAG_BUFFER ] |
 * TAG_BUFFER
 * ```
 *
 * The answer is read by @platformatic/kafka's own Produce v11 parser; a partition that answered
 * with an error comes back as an outcome with its code, not as a rejection, so the caller can
 * retry exactly the batches that need it. Rejects only when the request as a whole failed
 * (connection lost, timeout): then nothing is known about any batch.
 */
export function sendProduce(connection: Connection, request: ProduceRequest): Promise<PartitionOutcome[]> {
  const byTopic = new Map<string, PartitionBatch[]>();
  for (const batch of request.batches) {
    const list = byTopic.get(batch.topic);
    if (list) list.push(batch);
    else byTopic.set(batch.topic, [batch]);
  }
  const payload = () => {
    const writer = Writer.create()
      .appendString(request.transactionalId ?? null)
      .appendInt16(request.acks)
      .appendInt32(request.timeoutMs)
      .appendUnsignedVarInt(byTopic.size + 1);
    for (const [topic, batches] of byTopic) {
      writer.appendString(topic).appendUnsignedVarInt(batches.length + 1);
      for (const { partition, batch } of batches) {
        writer
          .appendInt32(partition)
          .appendUnsignedVarInt(batch.length + 1)
          .append(batch)
          .appendTaggedFields();
      }
      writer.appendTaggedFields();
    }
    return writer.appendTaggedFields();
  };
  return new Promise((resolve, reject) => {
    connection.send(
      PRODUCE,
      VERSION,
      payload,
      produceV11.parseResponse,
      true,
      true,
      (error: unknown, response: unknown) => {
        // The parser throws a ResponseError carrying the whole response when any partition failed.
        const answered = (
          error instanceof ResponseError
            ? (error as { response?: unknown }).response
            : error
              ? undefined
              : response
        ) as produceV11.ProduceResponse | undefined;
        if (!answered) {
          reject(error);
          return;
        }
        const outcomes: PartitionOutcome[] = [];
        for (const topic of answered.responses) {
          for (const partition of topic.partitionResponses) {
            outcomes.push({
              topic: topic.name,
              partition: partition.index,
              errorCode: partition.errorCode,
              errorMessage: partition.errorMessage ?? null,
              baseOffset: partition.baseOffset,
            });
          }
        }
        resolve(outcomes);
      },
    );
  });
}
