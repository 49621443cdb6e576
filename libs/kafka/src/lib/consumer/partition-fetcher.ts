import { type Base, type Connection, fetchV17, type Reader } from '@platformatic/kafka';
import { type AbortedTransaction, committedBatches, isAbortMarkerKey } from './aborted-transactions';
import { type BatchView, readRecordBatches } from './record-batch-reader';

const FETCH = 1;
const VERSION = 17;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;
const READ_COMMITTED = 1;
const READ_UNCOMMITTED = 0;
/** Errors after which the partition's leader may have moved: metadata is read again. */
const STALE_LEADER = new Set([3, 6, 74, 75, 100, 103]); // unknown topic/partition, not leader, fenced/unknown leader epoch, unknown topic id, inconsistent topic id
const OFFSET_OUT_OF_RANGE = 1;

/** One record as fetched: bytes as written, offset and timestamp resolved. */
export interface FetchedRecord {
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly (readonly [Buffer | null, Buffer | null])[];
}

/** What one fetch brought for one partition. */
export interface FetchedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly FetchedRecord[];
  /** The next offset to read, past everything this fetch covered (aborted records and markers included). */
  readonly nextOffset: bigint;
  readonly highWatermark: bigint;
}

/** A partition the leader refused for now (leader moved, topic just created): fetched again later. */
export interface PartitionFetchError {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  /** True when the fetch offset is outside the log (deleted by retention or DeleteRecords). */
  readonly outOfRange: boolean;
}

export interface PartitionFetcherOptions {
  /** Only committed records (the default), as Kafka's `isolation.level=read_committed`. */
  readonly readCommitted?: boolean;
  /** How long a leader may hold a fetch that has less than `minBytes`; default 500 ms. */
  readonly maxWaitMs?: number;
  readonly minBytes?: number;
  /** Largest answer per leader; default 50 MiB. */
  readonly maxBytes?: number;
  /** Largest answer per partition; default 1 MiB (a larger first batch still comes whole). */
  readonly partitionMaxBytes?: number;
}

interface Position {
  readonly topic: string;
  readonly partition: number;
  offset: bigint;
  paused: boolean;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Reads assigned partitions from their leaders, each from its own position: the fetch loop under
 * Tributary's consumer. Partitions are assigned, paused, resumed and moved one by one (a paused
 * partition is simply left out of the next fetch, the others keep flowing), and `fetch` sends one
 * Fetch request per leader at once. With read_committed, records of aborted transactions and
 * transaction markers are dropped by the Java consumer's rule ({@link committedBatches}); the
 * position moves past them all the same.
 *
 * The client (@platformatic/kafka) provides metadata and connections; the group, its assignment
 * and the committed offsets are the caller's.
 */
export class PartitionFetcher {
  private readonly positions = new Map<string, Position>();

  constructor(
    /** Any @platformatic/kafka client: only its metadata and connections are used. */
    private readonly client: Pick<Base, 'metadata' | 'connections' | 'clearMetadata'>,
    private readonly options: PartitionFetcherOptions = {},
  ) {}

  /** Starts reading `partition` of `topic` at `offset` (replacing a position it had). */
  assign(topic: string, partition: number, offset: bigint): void {
    this.positions.set(keyOf(topic, partition), { topic, partition, offset, paused: false });
  }

  revoke(topic: string, partition: number): void {
    this.positions.delete(keyOf(topic, partition));
  }

  /** Leaves the partition out of the next fetches, keeping its position. */
  pause(topic: string, partition: number): void {
    const position = this.positions.get(keyOf(topic, partition));
    if (position) position.paused = true;
  }

  resume(topic: string, partition: number): void {
    const position = this.positions.get(keyOf(topic, partition));
    if (position) position.paused = false;
  }

  /** Moves the position, e.g. back to the committed offset after a failed batch. */
  seek(topic: string, partition: number, offset: bigint): void {
    const position = this.positions.get(keyOf(topic, partition));
    if (position) position.offset = offset;
  }

  position(topic: string, partition: number): bigint | undefined {
    return this.positions.get(keyOf(topic, partition))?.offset;
  }

  get assigned(): readonly { topic: string; partition: number; paused: boolean }[] {
    return [...this.positions.values()].map(({ topic, partition, paused }) => ({ topic, partition, paused }));
  }

  /**
   * One round: a Fetch to every leader of an unpaused partition, at once. Returns what arrived per
   * partition and the partitions the leaders refused; positions advance past what was returned.
   * Rejects when the metadata cannot be read or a leader cannot be reached.
   */
  async fetch(): Promise<{ partitions: FetchedPartition[]; errors: PartitionFetchError[] }> {
    const active = [...this.positions.values()].filter((position) => !position.paused);
    if (active.length === 0) return { partitions: [], errors: [] };
    const topics = [...new Set(active.map((position) => position.topic))];
    const metadata = await this.client.metadata({ topics });
    const names = new Map<string, string>();
    const byLeader = new Map<number, Position[]>();
    for (const position of active) {
      const topic = metadata.topics.get(position.topic);
      if (topic === undefined) continue;
      names.set(topic.id, position.topic);
      const leader = topic.partitions[position.partition]?.leader ?? -1;
      const list = byLeader.get(leader);
      if (list) list.push(position);
      else byLeader.set(leader, [position]);
    }
    const partitions: FetchedPartition[] = [];
    const errors: PartitionFetchError[] = [];
    let stale = false;
    await Promise.all(
      [...byLeader].map(async ([leader, positions]) => {
        const broker = metadata.brokers.get(leader);
        if (broker === undefined) {
          stale = true;
          return;
        }
        const connection = await this.client.connections.get(broker);
        const asked = new Map(positions.map((position) => [keyOf(position.topic, position.partition), position.offset]));
        const response = await this.send(connection, metadata, positions);
        for (const topic of response.responses) {
          const name = names.get(topic.topicId);
          if (name === undefined) continue;
          for (const answer of topic.partitions) {
            const key = keyOf(name, answer.partitionIndex);
            const fetchedFrom = asked.get(key);
            const position = this.positions.get(key);
            // Revoked, moved or paused while the fetch was out: what came back is not wanted now.
            if (fetchedFrom === undefined || position === undefined || position.offset !== fetchedFrom || position.paused) continue;
            if (answer.errorCode !== 0) {
              if (STALE_LEADER.has(answer.errorCode)) stale = true;
              errors.push({
                topic: name,
                partition: answer.partitionIndex,
                errorCode: answer.errorCode,
                outOfRange: answer.errorCode === OFFSET_OUT_OF_RANGE,
              });
              continue;
            }
            const fetched = this.recordsOf(answer.records ?? [], answer.abortedTransactions, fetchedFrom);
            position.offset = fetched.nextOffset;
            partitions.push({
              topic: name,
              partition: answer.partitionIndex,
              records: fetched.records,
              nextOffset: fetched.nextOffset,
              highWatermark: answer.highWatermark,
            });
          }
        }
      }),
    );
    if (stale) this.client.clearMetadata();
    return { partitions, errors };
  }

  private send(
    connection: Connection,
    metadata: Awaited<ReturnType<Base['metadata']>>,
    positions: readonly Position[],
  ): Promise<FetchAnswer> {
    const byTopic = new Map<string, fetchV17.FetchRequestTopic>();
    for (const position of positions) {
      const topic = metadata.topics.get(position.topic);
      if (topic === undefined) continue;
      let request = byTopic.get(topic.id);
      if (request === undefined) {
        request = { topicId: topic.id, partitions: [] };
        byTopic.set(topic.id, request);
      }
      request.partitions.push({
        partition: position.partition,
        currentLeaderEpoch: topic.partitions[position.partition]?.leaderEpoch ?? -1,
        fetchOffset: position.offset,
        lastFetchedEpoch: -1,
        partitionMaxBytes: this.options.partitionMaxBytes ?? 1024 * 1024,
      });
    }
    const payload = () =>
      fetchV17.createRequest(
        this.options.maxWaitMs ?? 500,
        this.options.minBytes ?? 1,
        this.options.maxBytes ?? 50 * 1024 * 1024,
        (this.options.readCommitted ?? true) ? READ_COMMITTED : READ_UNCOMMITTED,
        0, // no fetch session: every request names all its partitions
        -1,
        [...byTopic.values()],
        [],
        '',
      );
    return new Promise((resolve, reject) => {
      connection.send(FETCH, VERSION, payload, parseFetchResponse, true, true, (error: unknown, response: unknown) => {
        if (error) reject(error);
        else resolve(response as FetchAnswer);
      });
    });
  }

  private recordsOf(
    batches: readonly BatchView[],
    aborted: readonly AbortedTransaction[] | null,
    from: bigint,
  ): { records: FetchedRecord[]; nextOffset: bigint } {
    let nextOffset = from;
    const facts = batches.map((batch) => {
      const lastOffset = batch.baseOffset + BigInt(batch.lastOffsetDelta);
      if (lastOffset + 1n > nextOffset) nextOffset = lastOffset + 1n;
      const control = (batch.attributes & CONTROL) !== 0;
      return {
        batch,
        baseOffset: batch.baseOffset,
        lastOffset,
        producerId: batch.producerId,
        transactional: (batch.attributes & TRANSACTIONAL) !== 0,
        control,
        abortMarker: control && isAbortMarkerKey(batch.records()[0]?.key ?? null),
      };
    });
    const delivered = (this.options.readCommitted ?? true) ? committedBatches(facts, aborted) : facts.filter((fact) => !fact.control);
    const records: FetchedRecord[] = [];
    for (const { batch } of delivered) {
      // A fetch starts at the batch holding the fetch offset: records before it were handed over already.
      const skipBelow = batch.baseOffset < from ? Number(from - batch.baseOffset) : 0;
      for (const record of batch.records()) if (record.offsetDelta >= skipBelow) records.push(record);
    }
    return { records, nextOffset };
  }
}

/** What the fetcher keeps of a Fetch answer: per partition, its error, high watermark, aborted transactions and record batches. */
interface FetchAnswer {
  readonly responses: readonly {
    readonly topicId: string;
    readonly partitions: readonly {
      readonly partitionIndex: number;
      readonly errorCode: number;
      readonly highWatermark: bigint;
      readonly abortedTransactions: AbortedTransaction[] | null;
      readonly records: readonly BatchView[];
    }[];
  }[];
}

/**
 * Reads a Fetch v17 answer (Kafka protocol guide) keeping each partition's records as record
 * batch views over the answer's bytes ({@link readRecordBatches}): nothing of a record is decoded
 * until the consumer asks for it. Partition errors are returned, not thrown.
 */
function parseFetchResponse(_correlationId: number, _apiKey: number, _apiVersion: number, reader: Reader): FetchAnswer {
  reader.readInt32(); // throttle_time_ms
  const errorCode = reader.readInt16();
  if (errorCode !== 0) throw new Error(`the fetch failed with error ${errorCode}`);
  reader.readInt32(); // session_id
  const responses = reader.readArray((topic) => ({
    topicId: topic.readUUID(),
    partitions: topic.readArray((partition) => {
      const partitionIndex = partition.readInt32();
      const partitionError = partition.readInt16();
      const highWatermark = partition.readInt64();
      partition.readInt64(); // last_stable_offset
      partition.readInt64(); // log_start_offset
      const abortedTransactions = partition.readNullableArray((entry) => ({
        producerId: entry.readInt64(),
        firstOffset: entry.readInt64(),
      }));
      partition.readInt32(); // preferred_read_replica
      let size = partition.readUnsignedVarInt(); // COMPACT_RECORDS: length + 1, 0 for null
      let records: BatchView[] = [];
      if (size > 1) {
        size--;
        records = readRecordBatches(partition.buffer.slice(partition.position, partition.position + size));
        partition.skip(size);
      }
      partition.readTaggedFields(); // diverging_epoch, current_leader, snapshot_id
      return { partitionIndex, errorCode: partitionError, highWatermark, abortedTransactions, records };
    }, true, false),
  }));
  reader.readTaggedFields(); // node_endpoints
  return { responses };
}
