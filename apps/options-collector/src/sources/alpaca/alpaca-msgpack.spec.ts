import { decode, encode, EXT_TIMESTAMP, ExtData } from '@msgpack/msgpack';
import { decodeFrame, encodeFrame, nanosOfWireTime, WireTimestamp, wireTimestampOf } from './alpaca-msgpack';

/** A msgpack timestamp extension built by hand from its spec layout, independent of our encoder. */
function timestamp64(seconds: number, nanoseconds: number): Uint8Array {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, nanoseconds * 4 + Math.floor(seconds / 2 ** 32));
  view.setUint32(4, seconds % 2 ** 32);
  return bytes;
}

function timestamp96(seconds: number, nanoseconds: number): Uint8Array {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, nanoseconds);
  view.setBigInt64(4, BigInt(seconds));
  return bytes;
}

describe('Alpaca msgpack frames', () => {
  it('keeps every nanosecond of a trade timestamp that a millisecond Date would round away', () => {
    const frame = encode([{ T: 't', S: 'SPY250321C00500000', t: new ExtData(EXT_TIMESTAMP, timestamp64(1_741_012_200, 123_456_789)) }]);
    const [message] = decodeFrame(frame) as { t: WireTimestamp }[];
    expect(nanosOfWireTime(message.t)).toBe('1741012200123456789');
    // What the library's default decoder gives: a Date, three digits lost.
    const [plain] = decode(frame) as { t: Date }[];
    expect(plain.t.getTime()).toBe(1_741_012_200_123);
  });

  it('reads the 32-bit (whole second), 64-bit and 96-bit timestamp forms exactly', () => {
    const frame = encode([
      new ExtData(EXT_TIMESTAMP, new Uint8Array([0x67, 0xc5, 0xb5, 0xe8])),
      new ExtData(EXT_TIMESTAMP, timestamp64(1_741_012_200, 999_999_999)),
      new ExtData(EXT_TIMESTAMP, timestamp96(1_741_012_200, 1)),
    ]);
    const decoded = (decodeFrame(frame) as WireTimestamp[]).map((value) => nanosOfWireTime(value));
    expect(decoded).toEqual(['1741010408000000000', '1741012200999999999', '1741012200000000001']);
  });

  it('writes timestamps that decode to the same nanoseconds, for the local test peer', () => {
    for (const ns of ['1741012200000000000', '1741012200000000001', '1741012200123456789', '4102444800999999999']) {
      const [value] = decodeFrame(encodeFrame([wireTimestampOf(ns)])) as WireTimestamp[];
      expect(value.toNanos()).toBe(ns);
    }
  });

  it('also reads RFC 3339 text timestamps (the REST snapshots) to the nanosecond, and refuses anything else', () => {
    expect(nanosOfWireTime('2025-03-03T14:30:00.123456789Z')).toBe('1741012200123456789');
    expect(nanosOfWireTime('not a time')).toBeUndefined();
    expect(nanosOfWireTime(1_741_012_200)).toBeUndefined();
  });
});
