import type { CompressionTypes, Message } from 'kafkajs';

/** One produce request: every message gathered for one compression codec, grouped by topic. */
export interface CoalescedRequest {
  readonly compression: CompressionTypes;
  readonly topicMessages: { topic: string; messages: Message[] }[];
  readonly messageCount: number;
  readonly bytes: number;
}

/** Sends one coalesced request and resolves once the brokers acknowledged it. */
export type RequestSender = (request: CoalescedRequest) => Promise<void>;

export interface CoalescingOptions {
  /** How long the first message waits for company before its request leaves. */
  readonly lingerMs: number;
  /** A request is sent as soon as this many bytes are waiting, and never grows larger (one message excepted). */
  readonly maxBatchBytes: number;
}

/** Approximate size of a message on the wire: value, key, headers and per-record overhead. */
export function estimateMessageBytes(message: Message): number {
  let bytes = 24;
  const { value, key, headers } = message;
  if (value !== null && value !== undefined) bytes += typeof value === 'string' ? Buffer.byteLength(value) : value.length;
  if (key !== null && key !== undefined) bytes += typeof key === 'string' ? Buffer.byteLength(key) : key.length;
  if (headers !== undefined) {
    for (const name in headers) {
      const header = headers[name];
      bytes += name.length + 2;
      if (typeof header === 'string') bytes += header.length;
      else if (header !== undefined && !Array.isArray(header)) bytes += header.length;
      else if (Array.isArray(header)) for (const item of header) bytes += item.length;
    }
  }
  return bytes;
}

/** Settles the caller's promise once every chunk of its messages is acknowledged, or at the first failure. */
class Completion {
  readonly promise: Promise<void>;
  private remaining = 0;
  private settled = false;
  private resolvePromise!: () => void;
  private rejectPromise!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolvePromise = resolve;
      this.rejectPromise = reject;
    });
  }

  expect(chunks: number): void {
    this.remaining += chunks;
  }

  chunkSent(): void {
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

interface Chunk {
  readonly topic: string;
  readonly messages: Message[];
  readonly bytes: number;
  readonly completion: Completion;
}

/**
 * The queue of one compression codec. One request is in flight at a time: the idempotent
 * producer serialises requests per broker anyway, and it keeps each partition's records in the
 * order they were sent. Messages that arrive meanwhile make up the next request, so batches grow
 * with load and latency stays at one round trip plus the linger.
 */
class Lane {
  private pending: Chunk[] = [];
  private pendingBytes = 0;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly compression: CompressionTypes,
    private readonly sender: RequestSender,
    private readonly options: CoalescingOptions,
  ) {}

  get idle(): boolean {
    return this.pending.length === 0 && this.inFlight === undefined;
  }

  add(chunk: Chunk): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.bytes;
    if (this.inFlight !== undefined) return; // sent right after the request in flight
    if (this.pendingBytes >= this.options.maxBatchBytes || this.options.lingerMs <= 0) this.sendNext();
    else this.timer ??= setTimeout(() => this.sendNext(), this.options.lingerMs);
  }

  /** Sends what is waiting now, without lingering; resolves when this lane has nothing left. */
  async drain(): Promise<void> {
    while (!this.idle) {
      if (this.inFlight === undefined) this.sendNext();
      await this.inFlight;
    }
  }

  private sendNext(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.inFlight !== undefined || this.pending.length === 0) return;

    const taken: Chunk[] = [];
    let bytes = 0;
    let count = 0;
    while (this.pending.length > 0) {
      const next = this.pending[0];
      if (taken.length > 0 && bytes + next.bytes > this.options.maxBatchBytes) break;
      taken.push(next);
      this.pending.shift();
      bytes += next.bytes;
      count += next.messages.length;
    }
    this.pendingBytes -= bytes;

    // Callers' arrays are never modified: several chunks of one topic are joined into a new array.
    const byTopic = new Map<string, Message[][]>();
    for (const chunk of taken) {
      const parts = byTopic.get(chunk.topic);
      if (parts === undefined) byTopic.set(chunk.topic, [chunk.messages]);
      else parts.push(chunk.messages);
    }
    const request: CoalescedRequest = {
      compression: this.compression,
      topicMessages: Array.from(byTopic, ([topic, parts]) => ({
        topic,
        messages: parts.length === 1 ? parts[0] : parts.flat(),
      })),
      messageCount: count,
      bytes,
    };

    let sent: Promise<void>;
    try {
      sent = this.sender(request);
    } catch (error) {
      sent = Promise.reject(error);
    }
    this.inFlight = sent.then(
      () => {
        for (const chunk of taken) chunk.completion.chunkSent();
      },
      (error: unknown) => {
        for (const chunk of taken) chunk.completion.fail(error);
      },
    );
    void this.inFlight.then(() => {
      this.inFlight = undefined;
      // Whatever queued up during the round trip has waited long enough: send it now.
      if (this.pending.length > 0) this.sendNext();
    });
  }
}

/**
 * Coalesces many concurrent `enqueue` calls into few produce requests: a request leaves when its
 * linger elapses, when `maxBatchBytes` are waiting, or when the previous request comes back.
 * Each caller's promise settles when all its messages are acknowledged (or one part failed).
 */
export class SendCoalescer {
  private readonly lanes = new Map<CompressionTypes, Lane>();

  constructor(
    private readonly sender: RequestSender,
    private readonly options: CoalescingOptions,
  ) {}

  enqueue(topic: string, compression: CompressionTypes, messages: Message[]): Promise<void> {
    const completion = new Completion();
    if (messages.length === 0) {
      completion.expect(1);
      completion.chunkSent();
      return completion.promise;
    }
    let lane = this.lanes.get(compression);
    if (lane === undefined) {
      lane = new Lane(compression, this.sender, this.options);
      this.lanes.set(compression, lane);
    }

    // Split one large call into chunks no larger than a request, so none exceeds the broker limit.
    const chunks: Chunk[] = [];
    let start = 0;
    let bytes = 0;
    for (let index = 0; index < messages.length; index++) {
      const size = estimateMessageBytes(messages[index]);
      if (index > start && bytes + size > this.options.maxBatchBytes) {
        chunks.push({ topic, messages: messages.slice(start, index), bytes, completion });
        start = index;
        bytes = 0;
      }
      bytes += size;
    }
    chunks.push({ topic, messages: start === 0 ? messages : messages.slice(start), bytes, completion });

    completion.expect(chunks.length);
    for (const chunk of chunks) lane.add(chunk);
    return completion.promise;
  }

  /** True when nothing is waiting and nothing is in flight. */
  get idle(): boolean {
    for (const lane of this.lanes.values()) if (!lane.idle) return false;
    return true;
  }

  /** Sends everything waiting now and resolves once every request has come back (failed or not). */
  async flush(): Promise<void> {
    await Promise.all(Array.from(this.lanes.values(), (lane) => lane.drain()));
  }
}
