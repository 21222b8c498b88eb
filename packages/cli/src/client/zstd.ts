/**
 * zstd for @platformatic/kafka on a Node.js without zlib's zstd (before 22.15 and 23.8; kch supports
 * Node 20). The library compresses and decompresses record batches synchronously with
 * `zlib.zstdCompressSync`; where that is missing it refuses zstd, and `kch produce -z zstd` and
 * reading a zstd batch (Java producers send them) would fail. This fills the library's codec table
 * (exported as `compressionsAlgorithms`) with two small synchronous codecs instead:
 *
 * - decompression: fzstd, pure JavaScript, which reads every frame (also those without a content size,
 *   as Java's streaming compressor writes them);
 * - compression: @bokuweb/zstd-wasm, zstd itself compiled to WebAssembly, loaded once on first use.
 *
 * (kch's own codec in @kch/protocol has zstd through @mongodb-js/zstd, which is asynchronous only.)
 * On a Node.js with zlib's zstd nothing changes.
 */
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { compressionsAlgorithms } from '@platformatic/kafka';

/** Kafka's default compression.zstd.level. */
const LEVEL = 3;

const nodeHasZstd = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';
const require = createRequire(import.meta.url);

type Data = Buffer | { buffer: Buffer };
const bytes = (data: Data): Buffer => (Buffer.isBuffer(data) ? data : data.buffer);

let compressor: ((data: Uint8Array, level: number) => Uint8Array) | undefined;

let installed = false;

/**
 * Puts the codecs in the library's table where Node.js lacks zstd (once; decompression loads fzstd on
 * the first zstd batch). Compression then also needs {@link loadZstdCompressor}.
 */
export function installZstdCodec(): void {
  if (nodeHasZstd || installed) return;
  installed = true;
  const zstd = compressionsAlgorithms.zstd as {
    compressSync: (data: Data) => Buffer;
    decompressSync: (data: Data) => Buffer;
    available: boolean;
  };
  zstd.decompressSync = (data) => {
    const { decompress } = require('fzstd') as typeof import('fzstd');
    const out = decompress(bytes(data));
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  };
  zstd.compressSync = (data) => {
    if (!compressor) throw new Error('zstd compression was not loaded: call loadZstdCompressor() first');
    const out = compressor(bytes(data), LEVEL);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  };
  zstd.available = true;
}

/** Makes zstd compression available to the library (loads the WebAssembly codec where Node lacks zstd). */
export async function loadZstdCompressor(): Promise<void> {
  installZstdCodec();
  if (nodeHasZstd || compressor) return;
  const wasm = require('@bokuweb/zstd-wasm') as typeof import('@bokuweb/zstd-wasm');
  await wasm.init();
  compressor = wasm.compress;
}
