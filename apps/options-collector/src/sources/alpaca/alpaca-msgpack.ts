import {
  decode,
  decodeTimestampToTimeSpec,
  encode,
  encodeTimeSpecToTimestamp,
  EXT_TIMESTAMP,
  ExtensionCodec,
} from '@msgpack/msgpack';
import { type EpochNanos, nanosFromIso } from '@tributary/contracts';

/**
 * A msgpack timestamp (extension type -1) as it came off the wire, kept to the nanosecond. The
 * library's default decoder turns it into a `Date`, which keeps milliseconds only: two option prints
 * 300 µs apart would collide and the order of an OPRA sweep would be lost.
 */
export class WireTimestamp {
  constructor(
    readonly seconds: number,
    readonly nanoseconds: number,
  ) {}

  /** Epoch nanoseconds as a canonical decimal string, computed without a floating-point step. */
  toNanos(): EpochNanos {
    if (this.seconds < 0) return '0';
    if (this.seconds === 0) return String(this.nanoseconds);
    return `${this.seconds}${String(this.nanoseconds).padStart(9, '0')}`;
  }
}

const codec = new ExtensionCodec<undefined>();
codec.register({
  type: EXT_TIMESTAMP,
  encode: (value: unknown) =>
    value instanceof WireTimestamp
      ? encodeTimeSpecToTimestamp({ sec: value.seconds, nsec: value.nanoseconds })
      : null,
  decode: (data: Uint8Array) => {
    const { sec, nsec } = decodeTimestampToTimeSpec(data);
    return new WireTimestamp(sec, nsec);
  },
});

/** Decodes one WebSocket frame of the Alpaca stream; timestamps come back as {@link WireTimestamp}. */
export function decodeFrame(data: Uint8Array): unknown {
  return decode(data, { extensionCodec: codec, useBigInt64: false });
}

/** Encodes a message for the Alpaca stream (or, in tests, a frame of the local peer). */
export function encodeFrame(value: unknown): Uint8Array {
  return encode(value, { extensionCodec: codec, ignoreUndefined: true });
}

/** A timestamp field of a stream message as epoch ns: the msgpack extension, or RFC 3339 text as in the JSON docs. */
export function nanosOfWireTime(value: unknown): EpochNanos | undefined {
  if (value instanceof WireTimestamp) return value.toNanos();
  if (typeof value === 'string') {
    try {
      return nanosFromIso(value);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Splits epoch ns into a wire timestamp (for the test peer and for round-trip checks). */
export function wireTimestampOf(ns: EpochNanos): WireTimestamp {
  const padded = ns.padStart(10, '0');
  return new WireTimestamp(Number(padded.slice(0, -9)), Number(padded.slice(-9)));
}
