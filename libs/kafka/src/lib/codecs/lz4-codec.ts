import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import type { CompressionCodec } from './compression-codec';

/**
 * LZ4 in the LZ4 *frame* format (magic 0x184D2204), which Kafka uses for record batches of
 * magic v1 and later, not the raw block format. Frames are written with independent 64 KiB
 * blocks and no checksums, the way the Java client writes them.
 */
export function lz4Compress(data: Buffer): Buffer {
  return compressFrameSync(data);
}

export function lz4Decompress(data: Buffer): Buffer {
  return decompressFrameSync(data);
}

export const lz4Codec: CompressionCodec = {
  compress: async (encoder) => lz4Compress(encoder.buffer),
  decompress: async (buffer) => lz4Decompress(buffer),
};
