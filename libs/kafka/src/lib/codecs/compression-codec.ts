/** The shape kafkajs expects in `CompressionCodecs[type]()`. */
export interface CompressionCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}
