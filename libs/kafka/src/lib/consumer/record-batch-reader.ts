import { compressionsAlgorithmsByBitmask, crc32c } from '@platformatic/kafka';
import { type HeaderPairs, headerValue, nameBytes } from '../record-headers';

// Record batch v2 layout (Kafka protocol guide, "Record Batch"): offsets of the header fields.
const BATCH_LENGTH_OFFSET = 8;
const MAGIC_OFFSET = 16;
const CRC_OFFSET = 17;
const ATTRIBUTES_OFFSET = 21;
const LAST_OFFSET_DELTA_OFFSET = 23;
const BASE_TIMESTAMP_OFFSET = 27;
const PRODUCER_ID_OFFSET = 43;
const RECORDS_COUNT_OFFSET = 57;
const RECORDS_OFFSET = 61;
const LOG_OVERHEAD = 12; // baseOffset + batchLength
const COMPRESSION_MASK = 0x07;

/** A record batch as fetched: its header read, its records decoded only when asked for. */
export interface BatchView {
  readonly baseOffset: bigint;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: bigint;
  readonly producerId: bigint;
  readonly attributes: number;
  readonly recordCount: number;
  /** The records, each of which decodes its key, value and headers on first use. */
  records(): LazyRecord[];
}

export class CorruptRecordBatchError extends Error {
  override readonly name = 'CorruptRecordBatchError';
}

/** Reads Kafka's zig-zag varints from a buffer, moving a cursor. */
class Cursor {
  constructor(
    readonly buffer: Buffer,
    public at: number,
  ) {}

  varint(): number {
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = this.buffer[this.at++];
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80 && shift < 35);
    return (value >>> 1) ^ -(value & 1);
  }

  /** A varlong that fits in a double exactly (timestamp deltas do). */
  varlong(): number {
    let value = 0;
    let scale = 1;
    let byte: number;
    do {
      byte = this.buffer[this.at++];
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    // zig-zag: even is positive, odd is negative
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }
}

/**
 * One record of a fetched batch. Only where it lies is known until a field is read: the key, the
 * value and the headers are cut out of the batch on first use, a header is looked up by comparing
 * bytes, and a value can be read as text without a Buffer of its own. A consumer that reads the
 * value and one or two headers of each record allocates for those only.
 */
export class LazyRecord {
  private keyCache?: Buffer | null;
  private valueCache?: Buffer | null;
  private headersCache?: (readonly [Buffer | null, Buffer | null])[];

  constructor(
    private readonly buffer: Buffer,
    private readonly baseOffset: bigint,
    /** Offset within its batch. */
    readonly offsetDelta: number,
    private readonly baseTimestamp: bigint,
    private readonly timestampDelta: number,
    /** Where the key's length is. */
    private readonly keyAt: number,
    private readonly keyLength: number,
    private readonly valueAt: number,
    private readonly valueLength: number,
    /** Where the header count is. */
    private readonly headersAt: number,
  ) {}

  get offset(): bigint {
    return this.baseOffset + BigInt(this.offsetDelta);
  }

  get timestamp(): bigint {
    return this.baseTimestamp + BigInt(this.timestampDelta);
  }

  get key(): Buffer | null {
    if (this.keyCache === undefined) this.keyCache = this.keyLength < 0 ? null : this.buffer.subarray(this.keyAt, this.keyAt + this.keyLength);
    return this.keyCache;
  }

  get value(): Buffer | null {
    if (this.valueCache === undefined) {
      this.valueCache = this.valueLength < 0 ? null : this.buffer.subarray(this.valueAt, this.valueAt + this.valueLength);
    }
    return this.valueCache;
  }

  /** Bytes of the value (0 for a tombstone); no Buffer is made for it. */
  get valueSize(): number {
    return Math.max(0, this.valueLength);
  }

  /** The value as UTF-8 text, null for a tombstone; no Buffer is made for it. */
  valueText(): string | null {
    return this.valueLength < 0 ? null : this.buffer.toString('utf8', this.valueAt, this.valueAt + this.valueLength);
  }

  get headers(): readonly (readonly [Buffer | null, Buffer | null])[] {
    if (this.headersCache === undefined) {
      const cursor = new Cursor(this.buffer, this.headersAt);
      const count = cursor.varint();
      const pairs: (readonly [Buffer | null, Buffer | null])[] = [];
      for (let index = 0; index < count; index++) {
        const nameLength = cursor.varint();
        const name = nameLength < 0 ? null : this.buffer.subarray(cursor.at, (cursor.at += nameLength));
        const valueLength = cursor.varint();
        const value = valueLength < 0 ? null : this.buffer.subarray(cursor.at, (cursor.at += valueLength));
        pairs.push([name, value]);
      }
      this.headersCache = pairs;
    }
    return this.headersCache;
  }

  /** One header as UTF-8 text (the last one when it repeats), found by comparing bytes. */
  header(name: Buffer): string | undefined {
    const cursor = new Cursor(this.buffer, this.headersAt);
    const count = cursor.varint();
    let found: string | undefined;
    for (let index = 0; index < count; index++) {
      const nameLength = cursor.varint();
      const nameAt = cursor.at;
      cursor.at += Math.max(0, nameLength);
      const valueLength = cursor.varint();
      const valueAt = cursor.at;
      cursor.at += Math.max(0, valueLength);
      // length and first byte first: most names differ there, and the full compare is a native call
      if (
        nameLength === name.length &&
        this.buffer[nameAt] === name[0] &&
        this.buffer.compare(name, 0, name.length, nameAt, nameAt + nameLength) === 0
      ) {
        found = valueLength < 0 ? undefined : this.buffer.toString('utf8', valueAt, valueAt + valueLength);
      }
    }
    return found;
  }
}

/**
 * The record batches of a fetched partition (the bytes of its `records` field). A batch cut short
 * at the end of the answer (the broker fills up to the size asked) is left out: the next fetch
 * starts with it. Each batch's CRC-32C is checked, as the Java consumer does (`check.crcs`).
 */
export function readRecordBatches(bytes: Buffer): BatchView[] {
  const batches: BatchView[] = [];
  let at = 0;
  while (at + RECORDS_OFFSET <= bytes.length) {
    const batchLength = bytes.readInt32BE(at + BATCH_LENGTH_OFFSET);
    const end = at + LOG_OVERHEAD + batchLength;
    if (end > bytes.length) break;
    const magic = bytes.readInt8(at + MAGIC_OFFSET);
    if (magic !== 2) throw new CorruptRecordBatchError(`record batch with magic ${magic} (only v2 is read)`);
    const crc = bytes.readUInt32BE(at + CRC_OFFSET);
    const computed = crc32c(bytes.subarray(at + ATTRIBUTES_OFFSET, end)) >>> 0;
    if (crc !== computed) throw new CorruptRecordBatchError(`record batch at offset ${bytes.readBigInt64BE(at)} fails its CRC`);
    batches.push(batchView(bytes, at, end));
    at = end;
  }
  return batches;
}

function batchView(bytes: Buffer, at: number, end: number): BatchView {
  const baseOffset = bytes.readBigInt64BE(at);
  const attributes = bytes.readInt16BE(at + ATTRIBUTES_OFFSET);
  const baseTimestamp = bytes.readBigInt64BE(at + BASE_TIMESTAMP_OFFSET);
  const recordCount = bytes.readInt32BE(at + RECORDS_COUNT_OFFSET);
  let decoded: LazyRecord[] | undefined;
  return {
    baseOffset,
    lastOffsetDelta: bytes.readInt32BE(at + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp,
    producerId: bytes.readBigInt64BE(at + PRODUCER_ID_OFFSET),
    attributes,
    recordCount,
    records() {
      decoded ??= decodeRecords(bytes, at, end, attributes, baseOffset, baseTimestamp, recordCount);
      return decoded;
    },
  };
}

function decodeRecords(
  bytes: Buffer,
  at: number,
  end: number,
  attributes: number,
  baseOffset: bigint,
  baseTimestamp: bigint,
  count: number,
): LazyRecord[] {
  let buffer = bytes;
  let start = at + RECORDS_OFFSET;
  const compression = attributes & COMPRESSION_MASK;
  if (compression !== 0) {
    const codec = compressionsAlgorithmsByBitmask[compression];
    if (codec === undefined) throw new CorruptRecordBatchError(`record batch compressed with unknown codec ${compression}`);
    buffer = codec.decompressSync(bytes.subarray(start, end)) as Buffer;
    start = 0;
    end = buffer.length;
  }
  const records: LazyRecord[] = new Array(count);
  const cursor = new Cursor(buffer, start);
  for (let index = 0; index < count; index++) {
    const length = cursor.varint();
    const next = cursor.at + length;
    cursor.at++; // attributes: unused in v2
    const timestampDelta = cursor.varlong();
    const offsetDelta = cursor.varint();
    const keyLength = cursor.varint();
    const keyAt = cursor.at;
    cursor.at += Math.max(0, keyLength);
    const valueLength = cursor.varint();
    const valueAt = cursor.at;
    cursor.at += Math.max(0, valueLength);
    records[index] = new LazyRecord(buffer, baseOffset, offsetDelta, baseTimestamp, timestampDelta, keyAt, keyLength, valueAt, valueLength, cursor.at);
    cursor.at = next;
  }
  if (cursor.at > end) throw new CorruptRecordBatchError(`record batch at offset ${baseOffset} has records past its end`);
  return records;
}

/** One header of a fetched record as text (the last when it repeats); without decoding the others when the record is lazy. */
export function recordHeader(record: { readonly headers: HeaderPairs }, name: string): string | undefined {
  return record instanceof LazyRecord ? record.header(nameBytes(name)) : headerValue(record.headers, name);
}

/** Bytes of a fetched record's value, 0 for a tombstone. */
export function recordValueSize(record: { readonly value: Buffer | null }): number {
  if (record instanceof LazyRecord) return record.valueSize;
  return record.value?.length ?? 0;
}

/** A fetched record's value as UTF-8 text, null for a tombstone. */
export function recordValueText(record: { readonly value: Buffer | null }): string | null {
  if (record instanceof LazyRecord) return record.valueText();
  return record.value === null ? null : record.value.toString('utf8');
}
