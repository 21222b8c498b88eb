import { KafkaCodecError } from '../errors.js';

/** The compression codec ids of a batch's attributes (bits 0-2). */
export const CompressionType = {
  None: 0,
  Gzip: 1,
  Snappy: 2,
  Lz4: 3,
  Zstd: 4,
} as const;
export type CompressionType = (typeof CompressionType)[keyof typeof CompressionType];

const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

export function compressionName(type: number): string {
  return NAMES[type] ?? `unknown(${type})`;
}

export function isCompressionType(type: number): type is CompressionType {
  return Number.isInteger(type) && type >= 0 && type <= 4;
}

/**
 * Default ceiling on the output of one decompression: 256 MiB.
 *
 * A producer can send a few kilobytes that inflate to gigabytes; every codec checks this bound
 * before (snappy, lz4, zstd: from sizes in the compressed framing) or while (gzip) producing output.
 * 256 MiB is far above anything Kafka's own limits let through a normal deployment (the default
 * message.max.bytes is 1 MiB compressed, and real ratios are under 20x), yet low enough that a single
 * request cannot exhaust a broker's heap. Brokers pass their own bound via `maxOutputBytes`.
 */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

export interface CompressOptions {
  /** Codec level (gzip 1-9, zstd 1-22); each codec's default is Kafka's default. Ignored by snappy and lz4. */
  level?: number;
}

export interface DecompressOptions {
  /**
   * Fail instead of producing more than this many bytes. Default {@link DEFAULT_MAX_DECOMPRESSED_BYTES}.
   * Exact for gzip and snappy; lz4 and zstd are checked against an upper bound read from their block
   * headers, which can exceed the real size by part of a block (at most the frame's block size for
   * lz4, 128 KiB per compressed block for zstd), so leave that much headroom over real data.
   */
  maxOutputBytes?: number;
}

export function maxOutput(options: DecompressOptions | undefined): number {
  const max = options?.maxOutputBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  if (!(Number.isSafeInteger(max) && max >= 0))
    throw new RangeError(`maxOutputBytes ${max} is not a byte count`);
  return max;
}

export function compressionError(codec: string, message: string): KafkaCodecError {
  return new KafkaCodecError('COMPRESSION', `${codec}: ${message}`);
}

/** Rejects before decompressing when the framing says the output could exceed the bound. */
export function checkBound(codec: string, bound: number, max: number): void {
  if (bound > max) {
    throw compressionError(
      codec,
      `decompressed size could reach ${bound} bytes, over the limit of ${max} (maxOutputBytes)`,
    );
  }
}

/** A Buffer over the same memory: the native codecs accept only Buffers. */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Re-throws anything a codec library threw as a COMPRESSION error, keeping our own errors as they are. */
export function wrapCodecError(codec: string, action: string, e: unknown): KafkaCodecError {
  if (e instanceof KafkaCodecError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return compressionError(codec, `${action} failed: ${msg}`);
}
