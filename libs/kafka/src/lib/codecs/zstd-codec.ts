import { compress, decompress, init } from '@bokuweb/zstd-wasm';
import type { CompressionCodec } from './compression-codec';

/**
 * Zstandard through the reference C library compiled to WebAssembly: no native build, no download
 * at install time, the same code on every platform.
 */
let ready: Promise<void> | undefined;

function whenReady(): Promise<void> {
  ready ??= init();
  return ready;
}

/** Level 3 is zstd's default and what the Java client uses. */
const ZSTD_LEVEL = 3;
/** Output room tried first when a frame does not state its size (the Java client streams frames). */
const MIN_OUTPUT_BYTES = 1024 * 1024;
/** Beyond this a frame is treated as corrupt rather than retried with more room. */
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export async function zstdCompress(data: Buffer): Promise<Buffer> {
  await whenReady();
  return asBuffer(compress(data, ZSTD_LEVEL));
}

export async function zstdDecompress(data: Buffer): Promise<Buffer> {
  await whenReady();
  // Frames with a declared size decompress in one go; streamed frames (no size in the header) get
  // a generous guess, grown when zstd reports the output did not fit.
  let room = Math.max(MIN_OUTPUT_BYTES, data.length * 16);
  for (;;) {
    try {
      return asBuffer(decompress(data, { defaultHeapSize: room }));
    } catch (error) {
      if (room >= MAX_OUTPUT_BYTES) throw error;
      room = Math.min(room * 4, MAX_OUTPUT_BYTES);
    }
  }
}

export const zstdCodec: CompressionCodec = {
  compress: (encoder) => zstdCompress(encoder.buffer),
  decompress: (buffer) => zstdDecompress(buffer),
};
