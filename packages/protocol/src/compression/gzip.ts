import * as zlib from 'node:zlib';
import { asBuffer, type CompressOptions, compressionError, wrapCodecError } from './types.js';

/** Kafka's default gzip level (java.util.zip.Deflater.DEFAULT_COMPRESSION). */
const DEFAULT_LEVEL = 6;

function gzipOptions(options: CompressOptions | undefined): zlib.ZlibOptions {
  return { level: options?.level ?? DEFAULT_LEVEL };
}

// zlib rejects a maxOutputLength of 0 or above 4 GiB; the caller re-checks the exact bound afterwards.
function zlibMax(max: number): number {
  return Math.min(Math.max(1, max), 2 ** 32);
}

function gunzipError(e: unknown, max: number) {
  if ((e as { code?: string } | null)?.code === 'ERR_BUFFER_TOO_LARGE') {
    return compressionError('gzip', `decompressed size is over the limit of ${max} bytes (maxOutputBytes)`);
  }
  return wrapCodecError('gzip', 'decompression', e);
}

export function gzipCompressSync(data: Uint8Array, options?: CompressOptions): Buffer {
  try {
    return zlib.gzipSync(data, gzipOptions(options));
  } catch (e) {
    throw wrapCodecError('gzip', 'compression', e);
  }
}

export function gzipDecompressSync(data: Uint8Array, max: number): Buffer {
  try {
    // maxOutputLength makes zlib stop inflating at the bound instead of after allocating the output.
    return zlib.gunzipSync(data, { maxOutputLength: zlibMax(max) });
  } catch (e) {
    throw gunzipError(e, max);
  }
}

export function gzipCompress(data: Uint8Array, options?: CompressOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.gzip(data, gzipOptions(options), (e, out) =>
      e ? reject(wrapCodecError('gzip', 'compression', e)) : resolve(out),
    );
  });
}

/** Off the event loop: zlib's async functions run on the libuv thread pool. */
export function gzipDecompress(data: Uint8Array, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlib.gunzip(asBuffer(data), { maxOutputLength: zlibMax(max) }, (e, out) =>
      e ? reject(gunzipError(e, max)) : resolve(out),
    );
  });
}
