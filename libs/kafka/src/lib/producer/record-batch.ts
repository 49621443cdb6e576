import { type CompressionAlgorithmValue, compressionsAlgorithms, crc32c } from '@platformatic/kafka';

/**
 * Kafka record batches (magic 2), written straight into one buffer: the hot path of every Tributary
 * producer. A general client builds each record and each header in buffers of their own; here the
 * headers that are the same for every record of a topic (schema name and version, producer) are
 * encoded once, in a {@link HeaderTemplate}, and copied per record, and keys, values and the
 * varying headers (event time, correlation ID, idempotency key) are written in place.
 *
 * Layout (Kafka protocol guide, "Record Batch"):
 *
 * ```
 * baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 | crc uint32 |
 * attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 |
 * producerId int64 | producerEpoch int16 | baseSequence int32 | recordCount int32 | records
 * record: length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *         keyLength varint | key | valueLength varint | value | headerCount varint | headers
 * header: keyLength varint | key | valueLength varint | value
 * ```
 *
 * The CRC-32C covers everything from `attributes` to the end; with compression, the records (not
 * their count) are compressed as one block.
 */

/** Offset of the record count: everything before it is the batch header. */
const RECORDS_COUNT_OFFSET = 57;
const RECORDS_OFFSET = 61;
const CRC_OFFSET = 17;
const ATTRIBUTES_OFFSET = 21;
const MAGIC = 2;
const TRANSACTIONAL = 0x10;

/** Bytes of `n` as an unsigned varint (n < 2^35 fits five bytes). */
export function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

/** Zigzag of a signed 32-bit integer (0, -1, 1, -2 … → 0, 1, 2, 3 …). */
function zigzag32(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}

/** Zigzag of a signed integer up to 2^52 in magnitude (timestamp deltas), without 32-bit wrap. */
function zigzag53(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/** Bytes of a zigzag varlong below 2^53. */
function varlongSize(zigzagged: number): number {
  let size = 1;
  while (zigzagged >= 0x80) {
    zigzagged = Math.floor(zigzagged / 0x80);
    size++;
  }
  return size;
}

/** Header names and values that repeat for every record of a topic, encoded once. */
export class HeaderTemplate {
  /** The encoded constant headers, ready to copy after a record's header count. */
  readonly constant: Buffer;
  readonly constantCount: number;
  /** Encoded names (length varint + bytes) of the headers whose value varies per record. */
  readonly varyingNames: readonly Buffer[];

  constructor(constant: Readonly<Record<string, string | Buffer>>, varying: readonly string[] = []) {
    const entries = Object.entries(constant).map(([name, value]) =>
      Buffer.concat([
        lengthPrefixed(Buffer.from(name)),
        lengthPrefixed(Buffer.isBuffer(value) ? value : Buffer.from(value)),
      ]),
    );
    this.constant = Buffer.concat(entries);
    this.constantCount = entries.length;
    this.varyingNames = varying.map((name) => lengthPrefixed(Buffer.from(name)));
  }
}

function lengthPrefixed(bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(varintSize(zigzag32(bytes.length)) + bytes.length);
  const at = writeVarint(out, 0, zigzag32(bytes.length));
  bytes.copy(out, at);
  return out;
}

/** Writes an unsigned varint below 2^35 at `at`; returns the offset after it. */
function writeVarint(buffer: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buffer[at++] = (n & 0x7f) | 0x80;
    n = n >= 0x100000000 ? Math.floor(n / 0x80) : n >>> 7;
  }
  buffer[at++] = n;
  return at;
}

/** Writes an unsigned varlong below 2^53 (an already zigzagged number) at `at`. */
function writeVarlong(buffer: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buffer[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buffer[at++] = n;
  return at;
}

/** A header of one record only: name and value. */
export type ExtraHeader = readonly [name: string, value: string | Buffer];

export interface BatchOptions {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  /** Sequence number of the first record (idempotent producers), -1 without one. */
  readonly baseSequence: number;
  readonly transactional?: boolean;
  readonly compression?: CompressionAlgorithmValue;
}

/**
 * One batch being written. `append` records one after another, then `finish` returns the batch as
 * it goes into a Produce request. A writer is reused: `finish` hands out a copy and `reset` starts
 * the next batch in the same buffer.
 */
export class RecordBatchWriter {
  private buffer: Buffer;
  private at = RECORDS_OFFSET;
  private count = 0;
  private baseTimestamp = 0;
  private maxTimestamp = 0;

  constructor(initialCapacity = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(Math.max(initialCapacity, 256));
  }

  /** Records appended since the last reset. */
  get recordCount(): number {
    return this.count;
  }

  /** Bytes the batch takes so far (uncompressed). */
  get size(): number {
    return this.at;
  }

  reset(): void {
    this.at = RECORDS_OFFSET;
    this.count = 0;
  }

  /**
   * Appends a record. `varying` holds the values of the template's varying headers, in its order;
   * an undefined value leaves that header out of this record. `extra` headers (name, value) follow
   * them, for the few records that carry headers of their own.
   */
  append(
    key: string | Buffer | null,
    value: string | Buffer | null,
    timestampMs: number,
    headers?: HeaderTemplate,
    varying?: readonly (string | undefined)[],
    extra?: readonly ExtraHeader[],
  ): void {
    if (this.count === 0) {
      this.baseTimestamp = timestampMs;
      this.maxTimestamp = timestampMs;
    } else if (timestampMs > this.maxTimestamp) {
      this.maxTimestamp = timestampMs;
    }
    const keyBytes = key === null ? -1 : typeof key === 'string' ? Buffer.byteLength(key) : key.length;
    const valueBytes =
      value === null ? -1 : typeof value === 'string' ? Buffer.byteLength(value) : value.length;
    let headerCount = 0;
    let headerBytes = 0;
    if (headers) {
      headerCount = headers.constantCount;
      headerBytes = headers.constant.length;
      if (varying) {
        for (let i = 0; i < headers.varyingNames.length; i++) {
          const header = varying[i];
          if (header === undefined) continue;
          const bytes = Buffer.byteLength(header);
          headerCount++;
          headerBytes += (headers.varyingNames[i] as Buffer).length + varintSize(zigzag32(bytes)) + bytes;
        }
      }
    }
    if (extra) {
      for (const [name, header] of extra) {
        const nameBytes = Buffer.byteLength(name);
        const bytes = typeof header === 'string' ? Buffer.byteLength(header) : header.length;
        headerCount++;
        headerBytes += varintSize(zigzag32(nameBytes)) + nameBytes + varintSize(zigzag32(bytes)) + bytes;
      }
    }
    const timestampDelta = zigzag53(timestampMs - this.baseTimestamp);
    const offsetDelta = zigzag32(this.count);
    const body =
      1 +
      varlongSize(timestampDelta) +
      varintSize(offsetDelta) +
      varintSize(zigzag32(keyBytes)) +
      Math.max(keyBytes, 0) +
      varintSize(zigzag32(valueBytes)) +
      Math.max(valueBytes, 0) +
      varintSize(zigzag32(headerCount)) +
      headerBytes;
    this.ensure(varintSize(zigzag32(body)) + body);

    const buffer = this.buffer;
    let at = writeVarint(buffer, this.at, zigzag32(body));
    buffer[at++] = 0; // record attributes: unused
    at = writeVarlong(buffer, at, timestampDelta);
    at = writeVarint(buffer, at, offsetDelta);
    at = writeVarint(buffer, at, zigzag32(keyBytes));
    if (key !== null)
      at += typeof key === 'string' ? buffer.write(key, at, keyBytes, 'utf8') : key.copy(buffer, at);
    at = writeVarint(buffer, at, zigzag32(valueBytes));
    if (value !== null)
      at += typeof value === 'string' ? buffer.write(value, at, valueBytes, 'utf8') : value.copy(buffer, at);
    at = writeVarint(buffer, at, zigzag32(headerCount));
    if (headers) {
      at += headers.constant.copy(buffer, at);
      if (varying) {
        for (let i = 0; i < headers.varyingNames.length; i++) {
          const header = varying[i];
          if (header === undefined) continue;
          at += (headers.varyingNames[i] as Buffer).copy(buffer, at);
          const bytes = Buffer.byteLength(header);
          at = writeVarint(buffer, at, zigzag32(bytes));
          at += buffer.write(header, at, bytes, 'utf8');
        }
      }
    }
    if (extra) {
      for (const [name, header] of extra) {
        const nameBytes = Buffer.byteLength(name);
        at = writeVarint(buffer, at, zigzag32(nameBytes));
        at += buffer.write(name, at, nameBytes, 'utf8');
        if (typeof header === 'string') {
          const bytes = Buffer.byteLength(header);
          at = writeVarint(buffer, at, zigzag32(bytes));
          at += buffer.write(header, at, bytes, 'utf8');
        } else {
          at = writeVarint(buffer, at, zigzag32(header.length));
          at += header.copy(buffer, at);
        }
      }
    }
    this.at = at;
    this.count++;
  }

  /** The batch of the records appended since the last reset, as a buffer of its own. */
  finish(options: BatchOptions): Buffer {
    if (this.count === 0) throw new Error('a record batch needs at least one record');
    const compression = options.compression ?? 'none';
    let batch: Buffer;
    if (compression === 'none') {
      batch = Buffer.from(this.buffer.subarray(0, this.at));
    } else {
      const codec = compressionsAlgorithms[compression];
      const compressed = codec.compressSync(this.buffer.subarray(RECORDS_OFFSET, this.at)) as Buffer;
      batch = Buffer.allocUnsafe(RECORDS_OFFSET + compressed.length);
      compressed.copy(batch, RECORDS_OFFSET);
    }
    batch.writeBigInt64BE(0n, 0); // baseOffset: the broker assigns offsets
    batch.writeInt32BE(batch.length - 12, 8); // batchLength: from partitionLeaderEpoch on
    batch.writeInt32BE(-1, 12); // partitionLeaderEpoch: set by the broker
    batch.writeInt8(MAGIC, 16);
    const attributes =
      (compression === 'none' ? 0 : compressionsAlgorithms[compression].bitmask) |
      (options.transactional ? TRANSACTIONAL : 0);
    batch.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
    batch.writeInt32BE(this.count - 1, 23); // lastOffsetDelta
    batch.writeBigInt64BE(BigInt(this.baseTimestamp), 27);
    batch.writeBigInt64BE(BigInt(this.maxTimestamp), 35);
    batch.writeBigInt64BE(options.producerId, 43);
    batch.writeInt16BE(options.producerEpoch, 51);
    batch.writeInt32BE(options.baseSequence, 53);
    batch.writeInt32BE(this.count, RECORDS_COUNT_OFFSET);
    batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
    return batch;
  }

  private ensure(bytes: number): void {
    if (this.at + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.at + bytes));
    this.buffer.copy(grown, 0, 0, this.at);
    this.buffer = grown;
  }
}
