import { compressSync, uncompressSync } from 'snappy';
import type { CompressionCodec } from './compression-codec';

/**
 * Snappy as Kafka writes it. The Java client frames snappy blocks the way xerial's
 * SnappyOutputStream does: an 8-byte magic, two big-endian int32 versions, then blocks of
 * [int32 compressed length][raw snappy block]. librdkafka and kafkajs codecs write one raw block.
 * Reading accepts both; writing uses the xerial framing so every Java, librdkafka and Go consumer
 * reads it.
 */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
/** Uncompressed bytes per block, as xerial's SnappyOutputStream uses by default. */
const XERIAL_BLOCK_BYTES = 32 * 1024;
const XERIAL_HEADER = (() => {
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8); // format version
  header.writeInt32BE(1, 12); // oldest compatible version
  return header;
})();

export function isXerialFramed(buffer: Buffer): boolean {
  return buffer.length >= XERIAL_HEADER_BYTES && buffer.compare(XERIAL_MAGIC, 0, 8, 0, 8) === 0;
}

export function snappyCompress(data: Buffer): Buffer {
  const parts: Buffer[] = [XERIAL_HEADER];
  let total = XERIAL_HEADER_BYTES;
  for (let start = 0; start < data.length; start += XERIAL_BLOCK_BYTES) {
    const block = compressSync(data.subarray(start, Math.min(start + XERIAL_BLOCK_BYTES, data.length)));
    const length = Buffer.allocUnsafe(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
    total += 4 + block.length;
  }
  return Buffer.concat(parts, total);
}

export function snappyDecompress(data: Buffer): Buffer {
  if (!isXerialFramed(data)) return uncompressSync(data, { asBuffer: true }) as Buffer;
  const parts: Buffer[] = [];
  let total = 0;
  let position = XERIAL_HEADER_BYTES;
  while (position < data.length) {
    if (position + 4 > data.length) throw new Error('truncated xerial snappy block header');
    const length = data.readInt32BE(position);
    position += 4;
    if (length < 0 || position + length > data.length) throw new Error('truncated xerial snappy block');
    const block = uncompressSync(data.subarray(position, position + length), { asBuffer: true }) as Buffer;
    parts.push(block);
    total += block.length;
    position += length;
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts, total);
}

export const snappyCodec: CompressionCodec = {
  compress: async (encoder) => snappyCompress(encoder.buffer),
  decompress: async (buffer) => snappyDecompress(buffer),
};
