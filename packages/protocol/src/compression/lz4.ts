import { loadNative } from './native.js';
import { asBuffer, checkBound, compressionError, wrapCodecError } from './types.js';
import { xxhash32 } from './xxhash32.js';

/** The part of `lz4-napi` used here: the LZ4 frame format, which is what Kafka means by lz4. */
interface Lz4Lib {
  compressFrameSync(data: Buffer): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
  compressFrame(data: Uint8Array): Promise<Buffer>;
  decompressFrame(data: Uint8Array): Promise<Buffer>;
}

const lz4 = (): Lz4Lib => loadNative<Lz4Lib>('lz4-napi', 'lz4');

const FRAME_MAGIC = 0x184d2204;
const BLOCK_UNCOMPRESSED = 0x80000000;
/** No LZ4 sequence expands by more than 255x (a run of match-length bytes of 255 each). */
const MAX_BLOCK_RATIO = 255;

export interface Lz4Options {
  /**
   * Kafka's magic-0 messages carry a frame header checksum computed over the magic number too (an
   * old Kafka bug, KAFKA-3160). Decoding: ignore it. Encoding: write it that way for old readers.
   */
  legacyHeaderChecksum?: boolean;
}

interface FrameScan {
  /** Offset of the header checksum byte. */
  hcAt: number;
  /** Where the first frame ends; bytes after it are ignored, as Kafka's Lz4BlockInputStream does. */
  end: number;
  /** Upper bound of the decompressed size. */
  bound: number;
}

/** Walks the frame's header and block lengths (without decompressing) to validate it and bound its output. */
function scanFrame(b: Buffer): FrameScan {
  const fail = (why: string) => compressionError('lz4', why);
  if (b.length < 7) throw fail(`input of ${b.length} bytes is too short for an LZ4 frame`);
  if (b.readUInt32LE(0) !== FRAME_MAGIC) throw fail('input does not start with the LZ4 frame magic');
  const flg = b[4]!;
  const bd = b[5]!;
  if (flg >>> 6 !== 1) throw fail(`unsupported LZ4 frame version ${flg >>> 6}`);
  const blockChecksum = (flg & 0x10) !== 0;
  const contentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const dictId = (flg & 0x01) !== 0;
  const blockSizeId = (bd >>> 4) & 7;
  if (blockSizeId < 4) throw fail(`invalid LZ4 block size id ${blockSizeId}`);
  const blockMax = 1 << (8 + 2 * blockSizeId);
  let pos = 6 + (contentSize ? 8 : 0) + (dictId ? 4 : 0);
  const hcAt = pos;
  pos += 1;
  if (pos > b.length) throw fail('LZ4 frame descriptor is truncated');
  let bound = 0;
  for (;;) {
    if (b.length - pos < 4) throw fail(`LZ4 block header at offset ${pos} is truncated`);
    const word = b.readUInt32LE(pos);
    pos += 4;
    if (word === 0) break;
    const n = word & ~BLOCK_UNCOMPRESSED;
    if (n > blockMax) throw fail(`LZ4 block of ${n} bytes is larger than the frame's maximum of ${blockMax}`);
    const need = n + (blockChecksum ? 4 : 0);
    if (b.length - pos < need) throw fail(`LZ4 block at offset ${pos - 4} is truncated`);
    pos += need;
    bound += word & BLOCK_UNCOMPRESSED ? n : Math.min(blockMax, n * MAX_BLOCK_RATIO);
  }
  if (contentChecksum) {
    if (b.length - pos < 4) throw fail('LZ4 content checksum is truncated');
    pos += 4;
  }
  return { hcAt, end: pos, bound };
}

function headerChecksum(frame: Uint8Array, from: number, hcAt: number): number {
  return (xxhash32(frame, from, hcAt) >>> 8) & 0xff;
}

function prepare(data: Uint8Array, max: number, options: Lz4Options | undefined): Buffer {
  const buf = asBuffer(data);
  const scan = scanFrame(buf);
  checkBound('lz4', scan.bound, max);
  let frame = buf.subarray(0, scan.end);
  if (options?.legacyHeaderChecksum) {
    // The library checks the header checksum; give it a copy with the correct one.
    frame = Buffer.from(frame);
    frame[scan.hcAt] = headerChecksum(frame, 4, scan.hcAt);
  }
  return frame;
}

function finishCompress(out: Buffer, options: Lz4Options | undefined): Buffer {
  if (options?.legacyHeaderChecksum) {
    const { hcAt } = scanFrame(out);
    out[hcAt] = headerChecksum(out, 0, hcAt);
  }
  return out;
}

export function lz4DecompressSync(data: Uint8Array, max: number, options?: Lz4Options): Buffer {
  const frame = prepare(data, max, options);
  try {
    return lz4().decompressFrameSync(frame);
  } catch (e) {
    throw wrapCodecError('lz4', 'decompression', e);
  }
}

export async function lz4Decompress(data: Uint8Array, max: number, options?: Lz4Options): Promise<Buffer> {
  const frame = prepare(data, max, options);
  const lib = lz4();
  try {
    return await lib.decompressFrame(frame);
  } catch (e) {
    throw wrapCodecError('lz4', 'decompression', e);
  }
}

/**
 * An LZ4 frame with independent 64 KiB blocks and no checksums: the layout Kafka's Java producer
 * writes (Lz4BlockOutputStream), which every Kafka consumer reads.
 */
export function lz4CompressSync(data: Uint8Array, options?: Lz4Options): Buffer {
  let out: Buffer;
  try {
    out = lz4().compressFrameSync(asBuffer(data));
  } catch (e) {
    throw wrapCodecError('lz4', 'compression', e);
  }
  return finishCompress(out, options);
}

export async function lz4Compress(data: Uint8Array, options?: Lz4Options): Promise<Buffer> {
  const lib = lz4();
  let out: Buffer;
  try {
    out = await lib.compressFrame(data);
  } catch (e) {
    throw wrapCodecError('lz4', 'compression', e);
  }
  return finishCompress(out, options);
}
