import type { CompressionAlgorithmValue } from '@platformatic/kafka';
import type { PartitionRecords, PartitionWritten } from './batch-producer';
import { type ExtraHeader, type HeaderTemplate, RecordBatchWriter } from './record-batch';

/** Sends one request's batches and resolves once the brokers acknowledged all of them (with where each partition's batch went, when known). */
export type BatchSender = (parts: readonly PartitionRecords[]) => Promise<readonly PartitionWritten[] | void>;

/** Where one record of a call went. */
export interface RecordPlacement {
  readonly partition: number;
  readonly offset: bigint;
}

export interface AccumulatorOptions {
  /** How long the first record waits for company before its request leaves. */
  readonly lingerMs: number;
  /** A request leaves as soon as it holds this many bytes, and never grows larger (one record excepted). */
  readonly maxBatchBytes: number;
}

/** Where a caller's records go: each into the batch of its partition in the request being filled. */
export interface RecordSink {
  add(
    partition: number,
    key: string | Buffer | null,
    value: string | Buffer | null,
    timestampMs: number,
    headers?: HeaderTemplate,
    varying?: readonly (string | undefined)[],
    extra?: readonly ExtraHeader[],
  ): void;
}

/** Where a call's record was written: its request, its partition's batch and its index there. */
interface Slot {
  readonly request: PendingRequest;
  readonly key: string;
  readonly partition: number;
  readonly index: number;
}

/** Settles one caller's promise once every request its records went into is acknowledged. */
class Completion {
  readonly promise: Promise<void>;
  /** Set for callers that want to know where each record went, in the order they added them. */
  readonly slots?: Slot[];
  readonly placements: RecordPlacement[] = [];
  private remaining = 0;
  private settled = false;
  private resolvePromise!: () => void;
  private rejectPromise!: (error: unknown) => void;

  constructor(trackPlacements = false) {
    if (trackPlacements) this.slots = [];
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolvePromise = resolve;
      this.rejectPromise = reject;
    });
  }

  /** The records went into one more request. */
  expect(): void {
    this.remaining++;
  }

  requestWritten(request?: PendingRequest, baseOffsets?: ReadonlyMap<string, bigint>): void {
    if (this.slots !== undefined && request !== undefined) {
      this.slots.forEach((slot, position) => {
        if (slot.request !== request) return;
        const base = baseOffsets?.get(slot.key);
        if (base !== undefined) this.placements[position] = { partition: slot.partition, offset: base + BigInt(slot.index) };
      });
    }
    if (--this.remaining === 0 && !this.settled) {
      this.settled = true;
      this.resolvePromise();
    }
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.rejectPromise(error);
  }
}

type PartitionBatch = PartitionRecords & { readonly records: RecordBatchWriter };

const batchKeyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** One produce request being filled: a record batch per partition, and the calls waiting for it. */
class PendingRequest {
  readonly partitions = new Map<string, PartitionBatch>();
  readonly completions = new Set<Completion>();
  records = 0;
  /** Bytes of the batches' records so far (uncompressed). */
  bytes = 0;

  constructor(private readonly spare: RecordBatchWriter[]) {}

  batchOf(topic: string, partition: number, compression: CompressionAlgorithmValue): RecordBatchWriter {
    const key = batchKeyOf(topic, partition);
    let part = this.partitions.get(key);
    if (part === undefined) {
      part = { topic, partition, compression, records: this.spare.pop() ?? new RecordBatchWriter() };
      this.partitions.set(key, part);
    }
    return part.records;
  }

  /** Gives the batch writers back for the next requests. */
  release(): void {
    for (const part of this.partitions.values()) {
      part.records.reset();
      this.spare.push(part.records);
    }
    this.partitions.clear();
  }
}

/**
 * Gathers the records of many concurrent calls into few produce requests, writing each record into
 * the batch of its partition as the call is made. A request leaves when its linger elapses, when
 * it holds `maxBatchBytes`, or when the previous request comes back: one request is in flight at a
 * time, so each partition keeps the order of the calls, batches grow with the load and latency
 * stays at one round trip plus the linger. A call resolves once every request its records went
 * into is acknowledged, and rejects with the first that failed.
 */
export class RequestAccumulator {
  /** Requests sent and records in them: records per request is the batching achieved. */
  readonly stats = { requests: 0, records: 0 };
  /** Batch writers of finished requests, reused. */
  private readonly spare: RecordBatchWriter[] = [];
  /** Requests waiting, oldest first; the last one takes new records until it is full. */
  private readonly queue: PendingRequest[] = [];
  private inFlight?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly sender: BatchSender,
    private readonly options: AccumulatorOptions,
  ) {}

  /**
   * Runs `write`, which adds one call's records to `sink` synchronously, and resolves once they are
   * acknowledged. Nothing is sent before `write` returns; when it throws, the call's records already
   * added are sent anyway, so check everything before adding.
   */
  write(topic: string, compression: CompressionAlgorithmValue, write: (sink: RecordSink) => void): Promise<void> {
    return this.accept(new Completion(), topic, compression, write);
  }

  /** {@link write}, resolving with where each record went (partition and offset), in the order they were added. */
  async writeReporting(topic: string, compression: CompressionAlgorithmValue, write: (sink: RecordSink) => void): Promise<RecordPlacement[]> {
    const completion = new Completion(true);
    await this.accept(completion, topic, compression, write);
    return completion.placements;
  }

  private accept(completion: Completion, topic: string, compression: CompressionAlgorithmValue, write: (sink: RecordSink) => void): Promise<void> {
    let added = 0;
    const sink: RecordSink = {
      add: (partition, key, value, timestampMs, headers, varying, extra) => {
        added++;
        const request = this.requestFor(completion);
        const batch = request.batchOf(topic, partition, compression);
        completion.slots?.push({ request, key: batchKeyOf(topic, partition), partition, index: batch.recordCount });
        const before = batch.size;
        batch.append(key, value, timestampMs, headers, varying, extra);
        request.bytes += batch.size - before;
        request.records++;
      },
    };
    try {
      write(sink);
    } catch (error) {
      // The caller gets the error; what was added still goes out and nobody waits for it.
      completion.promise.catch(() => undefined);
      this.afterWrite();
      throw error;
    }
    this.afterWrite();
    if (added === 0) {
      // Nothing to wait for.
      completion.expect();
      completion.requestWritten();
    }
    return completion.promise;
  }

  /** True when nothing is waiting and nothing is in flight. */
  get idle(): boolean {
    return this.inFlight === undefined && !this.hasRecords();
  }

  /** Sends what is waiting now, without lingering; resolves once every request has come back (failed or not). */
  async flush(): Promise<void> {
    while (!this.idle) {
      if (this.inFlight === undefined) this.sendNext();
      await this.inFlight;
    }
  }

  /** The request the next record goes into: the last one, or a new one once that is full. */
  private requestFor(completion: Completion): PendingRequest {
    let request = this.queue[this.queue.length - 1];
    if (request === undefined || request.bytes >= this.options.maxBatchBytes) {
      request = new PendingRequest(this.spare);
      this.queue.push(request);
    }
    if (!request.completions.has(completion)) {
      request.completions.add(completion);
      completion.expect();
    }
    return request;
  }

  private hasRecords(): boolean {
    return this.queue.some((request) => request.records > 0);
  }

  /** Sends at once when a request is full or lingering is off, else after the linger. */
  private afterWrite(): void {
    if (this.inFlight !== undefined || !this.hasRecords()) return; // sent right after the request in flight
    const full = this.queue.length > 1 || (this.queue[0]?.bytes ?? 0) >= this.options.maxBatchBytes;
    if (full || this.options.lingerMs <= 0) this.sendNext();
    else this.timer ??= setTimeout(() => this.sendNext(), this.options.lingerMs);
  }

  private sendNext(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.inFlight !== undefined) return;
    let request = this.queue.shift();
    while (request !== undefined && request.records === 0) request = this.queue.shift();
    if (request === undefined) return;
    this.stats.requests++;
    this.stats.records += request.records;
    this.inFlight = this.send(request).finally(() => {
      this.inFlight = undefined;
      // Whatever queued up during the round trip has waited long enough: send it now.
      if (this.hasRecords()) this.sendNext();
    });
  }

  private async send(request: PendingRequest): Promise<void> {
    try {
      const written = await this.sender([...request.partitions.values()]);
      const baseOffsets = written ? new Map(written.map((part) => [batchKeyOf(part.topic, part.partition), part.baseOffset])) : undefined;
      for (const completion of request.completions) completion.requestWritten(request, baseOffsets);
    } catch (error) {
      for (const completion of request.completions) completion.fail(error);
    } finally {
      request.release();
    }
  }
}
