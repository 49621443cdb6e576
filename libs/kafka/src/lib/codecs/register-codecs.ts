import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import type { CompressionCodec } from './compression-codec';
import { lz4Codec } from './lz4-codec';
import { snappyCodec } from './snappy-codec';
import { zstdCodec } from './zstd-codec';

const codecs: Record<number, CompressionCodec> = {
  [CompressionTypes.Snappy]: snappyCodec,
  [CompressionTypes.LZ4]: lz4Codec,
  [CompressionTypes.ZSTD]: zstdCodec,
};

/**
 * Makes kafkajs read and write snappy, lz4 and zstd record batches (gzip is built in). Without
 * this a consumer crashes on the first compressed batch another producer wrote. Safe to call
 * any number of times; importing `@tributary/kafka` calls it.
 */
export function registerCompressionCodecs(): void {
  const registry = CompressionCodecs as unknown as Record<number, () => CompressionCodec>;
  for (const [type, codec] of Object.entries(codecs)) {
    registry[Number(type)] = () => codec;
  }
}
