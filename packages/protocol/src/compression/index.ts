export {
  type CodecOptions,
  compress,
  compressSync,
  decompress,
  decompressSync,
  hasSyncCodec,
} from './codec.js';
export type { Lz4Options } from './lz4.js';
export { isXerialSnappy, snappyCompressRawSync } from './snappy.js';
export {
  CompressionType,
  type CompressOptions,
  compressionName,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  type DecompressOptions,
  isCompressionType,
} from './types.js';
export { xxhash32 } from './xxhash32.js';
export { zstdOutputBound } from './zstd.js';
