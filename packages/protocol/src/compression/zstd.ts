import { loadNative } from './native.js';
import { asBuffer, type CompressOptions, checkBound, compressionError, wrapCodecError } from './types.js';

/** `@mongodb-js/zstd` has only asynchronous functions (they run on the libuv thread pool). */
interface ZstdLib {
  compress(data: Buffer, level?: number): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}

const zstd = (): ZstdLib => loadNative<ZstdLib>('@mongodb-js/zstd', 'zstd');

/** Kafka's default compression.zstd.level. */
const DEFAULT_LEVEL = 3;
const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** A zstd block never regenerates more than 128 KiB (the format's Block_Maximum_Size). */
const BLOCK_MAX = 128 * 1024;
const DICT_ID_SIZES = [0, 1, 2, 4] as const;
const FCS_SIZES = [0, 2, 4, 8] as const;

/**
 * An upper bound of the decompressed size, from the frame and block headers alone. The library gives
 * no way to cap its output, and streaming compressors (Java's zstd-jni among them) do not write the
 * content size, so the bound comes from the blocks: raw and RLE blocks state their size, compressed
 * ones regenerate at most 128 KiB each.
 */
export function zstdOutputBound(data: Uint8Array): number {
  const b = asBuffer(data);
  const fail = (why: string) => compressionError('zstd', why);
  if (b.length === 0) throw fail('input is empty');
  let pos = 0;
  let bound = 0;
  while (pos < b.length) {
    if (b.length - pos < 4) throw fail(`frame at offset ${pos} is truncated`);
    const magic = b.readUInt32LE(pos);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (b.length - pos < 8) throw fail(`skippable frame at offset ${pos} is truncated`);
      const n = b.readUInt32LE(pos + 4);
      if (n > b.length - pos - 8) throw fail(`skippable frame at offset ${pos} is truncated`);
      pos += 8 + n;
      continue;
    }
    if (magic !== FRAME_MAGIC) throw fail(`no zstd frame magic at offset ${pos}`);
    if (b.length - pos < 5) throw fail(`frame header at offset ${pos} is truncated`);
    const fhd = b[pos + 4]!;
    if (fhd & 0x08) throw fail(`frame at offset ${pos} sets a reserved header bit`);
    const singleSegment = (fhd & 0x20) !== 0;
    const checksum = (fhd & 0x04) !== 0;
    const fcsFlag = fhd >>> 6;
    const fcsSize = fcsFlag === 0 ? (singleSegment ? 1 : 0) : FCS_SIZES[fcsFlag]!;
    pos += 5 + (singleSegment ? 0 : 1) + DICT_ID_SIZES[fhd & 3]! + fcsSize;
    for (let last = false; !last; ) {
      if (b.length - pos < 3) throw fail(`block header at offset ${pos} is truncated`);
      const header = b[pos]! | (b[pos + 1]! << 8) | (b[pos + 2]! << 16);
      pos += 3;
      last = (header & 1) === 1;
      const type = (header >>> 1) & 3;
      const size = header >>> 3;
      let consumed: number;
      if (type === 0) {
        consumed = size;
        bound += size;
      } else if (type === 1) {
        consumed = 1;
        bound += size;
      } else if (type === 2) {
        consumed = size;
        bound += BLOCK_MAX;
      } else {
        throw fail(`block at offset ${pos - 3} has the reserved block type`);
      }
      if (b.length - pos < consumed) throw fail(`block at offset ${pos - 3} is truncated`);
      pos += consumed;
    }
    if (checksum) {
      if (b.length - pos < 4) throw fail('content checksum is truncated');
      pos += 4;
    }
  }
  return bound;
}

export async function zstdDecompress(data: Uint8Array, max: number): Promise<Buffer> {
  checkBound('zstd', zstdOutputBound(data), max);
  const lib = zstd();
  try {
    return await lib.decompress(asBuffer(data));
  } catch (e) {
    throw wrapCodecError('zstd', 'decompression', e);
  }
}

export async function zstdCompress(data: Uint8Array, options?: CompressOptions): Promise<Buffer> {
  const lib = zstd();
  try {
    return await lib.compress(asBuffer(data), options?.level ?? DEFAULT_LEVEL);
  } catch (e) {
    throw wrapCodecError('zstd', 'compression', e);
  }
}
