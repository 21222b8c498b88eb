import { KafkaCodecError } from '../errors.js';
import { gzipCompress, gzipCompressSync, gzipDecompress, gzipDecompressSync } from './gzip.js';
import { lz4Compress, lz4CompressSync, lz4Decompress, lz4DecompressSync } from './lz4.js';
import { snappyCompressSync, snappyDecompressSync } from './snappy.js';
import {
  asBuffer,
  CompressionType,
  type CompressOptions,
  compressionError,
  compressionName,
  type DecompressOptions,
  maxOutput,
} from './types.js';
import { zstdCompress, zstdDecompress } from './zstd.js';

export interface CodecOptions extends CompressOptions, DecompressOptions {
  /** lz4 only: the broken frame header checksum of Kafka's magic-0 messages (see {@link Lz4Options}). */
  legacyLz4HeaderChecksum?: boolean;
}

function unknown(type: number): never {
  throw compressionError('compression', `unknown compression type ${type}`);
}

function noSync(): never {
  throw new KafkaCodecError(
    'COMPRESSION',
    'zstd: the zstd library (@mongodb-js/zstd) has no synchronous API; use the async compress()/decompress()',
  );
}

function checkOutput(type: number, out: Buffer, max: number): Buffer {
  // The codecs bound their output up front from the framing; this catches what the framing cannot
  // promise exactly (gzip's 1-byte floor, lz4's 255x estimate, zstd content past a block bound).
  if (out.length > max) {
    throw compressionError(
      compressionName(type),
      `decompressed ${out.length} bytes, over the limit of ${max} (maxOutputBytes)`,
    );
  }
  return out;
}

/** Whether {@link compressSync} and {@link decompressSync} work for this type (all but zstd). */
export function hasSyncCodec(type: number): boolean {
  return type >= CompressionType.None && type <= CompressionType.Lz4 && Number.isInteger(type);
}

export function compressSync(type: number, data: Uint8Array, options?: CodecOptions): Buffer {
  switch (type) {
    case CompressionType.None:
      return asBuffer(data);
    case CompressionType.Gzip:
      return gzipCompressSync(data, options);
    case CompressionType.Snappy:
      return snappyCompressSync(data);
    case CompressionType.Lz4:
      return lz4CompressSync(data, { legacyHeaderChecksum: options?.legacyLz4HeaderChecksum });
    case CompressionType.Zstd:
      return noSync();
    default:
      return unknown(type);
  }
}

export function decompressSync(type: number, data: Uint8Array, options?: CodecOptions): Buffer {
  const max = maxOutput(options);
  switch (type) {
    case CompressionType.None:
      return checkOutput(type, asBuffer(data), max);
    case CompressionType.Gzip:
      return checkOutput(type, gzipDecompressSync(data, max), max);
    case CompressionType.Snappy:
      return checkOutput(type, snappyDecompressSync(data, max), max);
    case CompressionType.Lz4:
      return checkOutput(
        type,
        lz4DecompressSync(data, max, { legacyHeaderChecksum: options?.legacyLz4HeaderChecksum }),
        max,
      );
    case CompressionType.Zstd:
      return noSync();
    default:
      return unknown(type);
  }
}

/** Compresses with any codec; gzip, lz4 and zstd work off the event loop. */
export async function compress(type: number, data: Uint8Array, options?: CodecOptions): Promise<Buffer> {
  switch (type) {
    case CompressionType.Gzip:
      return gzipCompress(data, options);
    case CompressionType.Lz4:
      return lz4Compress(data, { legacyHeaderChecksum: options?.legacyLz4HeaderChecksum });
    case CompressionType.Zstd:
      return zstdCompress(data, options);
    default:
      return compressSync(type, data, options);
  }
}

/** Decompresses with any codec, bounded by `options.maxOutputBytes`. */
export async function decompress(type: number, data: Uint8Array, options?: CodecOptions): Promise<Buffer> {
  const max = maxOutput(options);
  switch (type) {
    case CompressionType.Gzip:
      return checkOutput(type, await gzipDecompress(data, max), max);
    case CompressionType.Lz4:
      return checkOutput(
        type,
        await lz4Decompress(data, max, { legacyHeaderChecksum: options?.legacyLz4HeaderChecksum }),
        max,
      );
    case CompressionType.Zstd:
      return checkOutput(type, await zstdDecompress(data, max), max);
    default:
      return decompressSync(type, data, options);
  }
}
