/**
 * Decoder of PostgreSQL's logical replication protocol as the `pgoutput` plugin writes it
 * (protocol version 1, with `messages 'true'`), and of the streaming replication wrappers around
 * it (XLogData, primary keepalive). LSNs are bigints: they are 64-bit.
 */

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
export const POSTGRES_EPOCH_MICROS = 946_684_800_000_000n;

export interface RelationColumn {
  readonly name: string;
  readonly typeOid: number;
  readonly typeModifier: number;
  /** Part of the replica identity (with REPLICA IDENTITY FULL: every column). */
  readonly isKey: boolean;
}

export interface Relation {
  readonly tag: 'relation';
  readonly relationOid: number;
  readonly schema: string;
  readonly table: string;
  /** d = default (primary key), n = nothing, f = full, i = index. */
  readonly replicaIdentity: string;
  readonly columns: readonly RelationColumn[];
}

/** Marks a TOASTed column an update did not change: PostgreSQL does not send its value. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');

/**
 * One column of a tuple: its text form, null, or {@link UNCHANGED_TOAST}. Plain strings rather
 * than an object per column: a busy stream decodes hundreds of thousands of columns a second.
 */
export type TupleValue = string | null | typeof UNCHANGED_TOAST;

export type PgOutputMessage =
  | { tag: 'begin'; finalLsn: bigint; commitTimeMicros: bigint; xid: number }
  | { tag: 'commit'; commitLsn: bigint; endLsn: bigint; commitTimeMicros: bigint }
  | Relation
  | { tag: 'type'; typeOid: number; schema: string; name: string }
  | { tag: 'origin'; lsn: bigint; name: string }
  | { tag: 'insert'; relationOid: number; newTuple: TupleValue[] }
  | { tag: 'update'; relationOid: number; oldTuple: TupleValue[] | null; oldIsKeyOnly: boolean; newTuple: TupleValue[] }
  | { tag: 'delete'; relationOid: number; oldTuple: TupleValue[]; oldIsKeyOnly: boolean }
  | { tag: 'truncate'; relationOids: number[]; cascade: boolean; restartIdentity: boolean }
  | { tag: 'message'; transactional: boolean; lsn: bigint; prefix: string; content: Buffer };

/** Messages of the CopyBoth stream from the server. */
export type ReplicationMessage =
  | { tag: 'xlogdata'; walStart: bigint; walEnd: bigint; payload: Buffer }
  | { tag: 'keepalive'; walEnd: bigint; replyRequested: boolean };

const KIND_NULL = 0x6e; // 'n'
const KIND_UNCHANGED = 0x75; // 'u'
const KIND_TEXT = 0x74; // 't'
const KIND_BINARY = 0x62; // 'b'

class Reader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}

  byte(): number {
    return this.buffer.readUInt8(this.offset++);
  }
  char(): string {
    return String.fromCharCode(this.byte());
  }
  int16(): number {
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  int32(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  uint32(): number {
    const value = this.buffer.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  uint64(): bigint {
    const value = this.buffer.readBigUInt64BE(this.offset);
    this.offset += 8;
    return value;
  }
  int64(): bigint {
    const value = this.buffer.readBigInt64BE(this.offset);
    this.offset += 8;
    return value;
  }
  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const value = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }
  /** The next `length` bytes as UTF-8, decoded straight from the buffer (no intermediate slice). */
  text(length: number): string {
    const start = this.offset;
    const end = start + length;
    if (length < 0 || end > this.buffer.length) throw new Error('pgoutput: truncated column value');
    this.offset = end;
    return this.buffer.toString('utf8', start, end);
  }
  bytes(length: number): Buffer {
    const value = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
  rest(): Buffer {
    return this.buffer.subarray(this.offset);
  }
}

function tuple(reader: Reader): TupleValue[] {
  const count = reader.int16();
  const values: TupleValue[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const kind = reader.byte();
    if (kind === KIND_NULL) values[i] = null;
    else if (kind === KIND_UNCHANGED) values[i] = UNCHANGED_TOAST;
    else if (kind === KIND_TEXT || kind === KIND_BINARY) values[i] = reader.text(reader.int32());
    else throw new Error(`pgoutput: unknown tuple value kind ${JSON.stringify(String.fromCharCode(kind))}`);
  }
  return values;
}

/** Decodes one pgoutput message (the payload of an XLogData). */
export function decodePgOutput(payload: Buffer): PgOutputMessage {
  const reader = new Reader(payload);
  const tag = reader.char();
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: reader.uint64(), commitTimeMicros: reader.int64(), xid: reader.uint32() };
    case 'C': {
      reader.byte(); // flags, unused
      return { tag: 'commit', commitLsn: reader.uint64(), endLsn: reader.uint64(), commitTimeMicros: reader.int64() };
    }
    case 'O':
      return { tag: 'origin', lsn: reader.uint64(), name: reader.cstring() };
    case 'R': {
      const relationOid = reader.uint32();
      const schema = reader.cstring();
      const table = reader.cstring();
      const replicaIdentity = reader.char();
      const count = reader.int16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < count; i++) {
        const flags = reader.byte();
        columns.push({ isKey: (flags & 1) === 1, name: reader.cstring(), typeOid: reader.uint32(), typeModifier: reader.int32() });
      }
      return { tag: 'relation', relationOid, schema, table, replicaIdentity, columns };
    }
    case 'Y':
      return { tag: 'type', typeOid: reader.uint32(), schema: reader.cstring(), name: reader.cstring() };
    case 'I': {
      const relationOid = reader.uint32();
      reader.char(); // 'N'
      return { tag: 'insert', relationOid, newTuple: tuple(reader) };
    }
    case 'U': {
      const relationOid = reader.uint32();
      let marker = reader.char();
      let oldTuple: TupleValue[] | null = null;
      const oldIsKeyOnly = marker === 'K';
      if (marker === 'K' || marker === 'O') {
        oldTuple = tuple(reader);
        marker = reader.char();
      }
      if (marker !== 'N') throw new Error(`pgoutput: update without new tuple (marker ${marker})`);
      return { tag: 'update', relationOid, oldTuple, oldIsKeyOnly, newTuple: tuple(reader) };
    }
    case 'D': {
      const relationOid = reader.uint32();
      const marker = reader.char();
      return { tag: 'delete', relationOid, oldIsKeyOnly: marker === 'K', oldTuple: tuple(reader) };
    }
    case 'T': {
      const count = reader.int32();
      const options = reader.byte();
      const relationOids: number[] = [];
      for (let i = 0; i < count; i++) relationOids.push(reader.uint32());
      return { tag: 'truncate', relationOids, cascade: (options & 1) === 1, restartIdentity: (options & 2) === 2 };
    }
    case 'M': {
      const flags = reader.byte();
      const lsn = reader.uint64();
      const prefix = reader.cstring();
      const length = reader.int32();
      return { tag: 'message', transactional: (flags & 1) === 1, lsn, prefix, content: Buffer.from(reader.bytes(length)) };
    }
    default:
      throw new Error(`pgoutput: unknown message type ${JSON.stringify(tag)}`);
  }
}

/** Decodes a CopyData message of the replication stream: XLogData ('w') or primary keepalive ('k'). */
export function decodeReplicationMessage(chunk: Buffer): ReplicationMessage | null {
  const reader = new Reader(chunk);
  const tag = reader.char();
  if (tag === 'w') {
    const walStart = reader.uint64();
    const walEnd = reader.uint64();
    reader.int64(); // server send time
    return { tag: 'xlogdata', walStart, walEnd, payload: reader.rest() };
  }
  if (tag === 'k') {
    const walEnd = reader.uint64();
    reader.int64();
    return { tag: 'keepalive', walEnd, replyRequested: reader.byte() === 1 };
  }
  return null;
}

/**
 * The standby status update: written, flushed and applied positions. For a logical slot the
 * flushed position becomes `confirmed_flush_lsn`: PostgreSQL will not send again any transaction
 * whose commit record starts before it, and may recycle the WAL before it.
 */
export function standbyStatusUpdate(confirmedLsn: bigint, nowMillis: number, replyRequested = false): Buffer {
  const buffer = Buffer.alloc(34);
  buffer.write('r', 0);
  buffer.writeBigUInt64BE(confirmedLsn, 1);
  buffer.writeBigUInt64BE(confirmedLsn, 9);
  buffer.writeBigUInt64BE(confirmedLsn, 17);
  buffer.writeBigInt64BE(BigInt(nowMillis) * 1000n - POSTGRES_EPOCH_MICROS, 25);
  buffer.writeUInt8(replyRequested ? 1 : 0, 33);
  return buffer;
}

/** `16/B374D848` -> 0x16B374D848. */
export function parseLsn(text: string): bigint {
  const [high, low] = text.split('/');
  if (high === undefined || low === undefined) throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

const MAX_EXACT_LSN = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * `source.lsn` as a JSON number, exact or null: an LSN is a 64-bit byte position in the WAL, and a
 * JSON number read by JavaScript is exact only up to 2^53 - 1 (8 PiB of WAL, about 28 years at a
 * sustained 10 MB/s). Above that the number would be rounded silently, so null is written instead;
 * the exact position is always in `source.sequence` and in the `idempotency.key` header, as decimal
 * strings.
 */
export function lsnNumber(lsn: bigint): number | null {
  return lsn <= MAX_EXACT_LSN ? Number(lsn) : null;
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
