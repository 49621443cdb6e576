import { randomBytes } from 'node:crypto';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { compressSync } from 'snappy';
import { lz4Compress, lz4Decompress } from './lz4-codec';
import { registerCompressionCodecs } from './register-codecs';
import { isXerialFramed, snappyCompress, snappyDecompress } from './snappy-codec';
import { zstdCompress, zstdDecompress } from './zstd-codec';

/** Compressible data the size of a real record batch: repeated JSON with some noise. */
function batchBytes(records: number): Buffer {
  const lines = Array.from({ length: records }, (_, index) =>
    JSON.stringify({ symbol: 'AAPL', price: 214.1 + index / 100, size: index, noise: randomBytes(4).toString('hex') }),
  );
  return Buffer.from(lines.join('\n'));
}

describe('compression codecs', () => {
  it('snappy writes the xerial framing the Java client writes, in 32 KiB blocks, and reads it back', () => {
    const data = batchBytes(2_000);
    const compressed = snappyCompress(data);
    expect(isXerialFramed(compressed)).toBe(true);
    expect(compressed.readInt32BE(8)).toBe(1);
    expect(compressed.readInt32BE(12)).toBe(1);
    expect(data.length).toBeGreaterThan(32 * 1024);
    expect(snappyDecompress(compressed).equals(data)).toBe(true);
  });

  it('snappy reads a raw, unframed block as librdkafka and older kafkajs codecs write it', () => {
    const data = batchBytes(50);
    expect(snappyDecompress(compressSync(data)).equals(data)).toBe(true);
  });

  it('snappy refuses a truncated xerial stream instead of returning partial data', () => {
    const compressed = snappyCompress(batchBytes(500));
    expect(() => snappyDecompress(compressed.subarray(0, compressed.length - 10))).toThrow(/truncated/);
  });

  it('lz4 writes the LZ4 frame format (magic 0x184D2204) and reads it back', () => {
    const data = batchBytes(3_000);
    const compressed = lz4Compress(data);
    expect(compressed.readUInt32LE(0)).toBe(0x184d2204);
    expect(lz4Decompress(compressed).equals(data)).toBe(true);
  });

  it('zstd round-trips a multi-megabyte batch', async () => {
    const data = Buffer.concat([batchBytes(20_000), Buffer.alloc(3 * 1024 * 1024, 'a')]);
    const compressed = await zstdCompress(data);
    expect(compressed.readUInt32LE(0)).toBe(0xfd2fb528);
    expect((await zstdDecompress(compressed)).equals(data)).toBe(true);
  });

  it('registering makes kafkajs use them for snappy, lz4 and zstd, and registering twice is harmless', async () => {
    registerCompressionCodecs();
    registerCompressionCodecs();
    const registry = CompressionCodecs as unknown as Record<number, () => {
      compress(encoder: { buffer: Buffer }): Promise<Buffer>;
      decompress(buffer: Buffer): Promise<Buffer>;
    }>;
    const data = batchBytes(100);
    for (const type of [CompressionTypes.Snappy, CompressionTypes.LZ4, CompressionTypes.ZSTD]) {
      const codec = registry[type]();
      const compressed = await codec.compress({ buffer: data });
      expect((await codec.decompress(compressed)).equals(data)).toBe(true);
    }
  });
});
