import { loadNative } from './native.js';
import { asBuffer, checkBound, compressionError, wrapCodecError } from './types.js';

/** The part of the `snappy` package used here (raw snappy blocks). */
interface SnappyLib {
  compressSync(input: Uint8Array): Buffer;
  uncompressSync(input: Uint8Array, options: { asBuffer: true }): Buffer | string;
}

const snappy = (): SnappyLib => loadNative<SnappyLib>('snappy', 'snappy');

/**
 * snappy-java's stream framing (SnappyOutputStream), which the Java client writes: an 8-byte magic, two
 * int32 versions, then blocks of int32 big-endian length + raw snappy block. librdkafka writes bare
 * raw snappy instead; Kafka's consumers read both, so decompression tells them apart by the magic.
 */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
const XERIAL_VERSION = 1;
const XERIAL_COMPATIBLE_VERSION = 1;
/** snappy-java's default block size, the one Kafka's Java producer uses. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

function hasXerialMagic(data: Uint8Array, at: number): boolean {
  if (data.length - at < XERIAL_MAGIC.length) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[at + i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

/** Whether `data` is xerial-framed snappy rather than a raw snappy block. */
export function isXerialSnappy(data: Uint8Array): boolean {
  return hasXerialMagic(data, 0);
}

/** The uncompressed length a raw snappy block announces in its preamble (a uvarint of at most 32 bits). */
function rawUncompressedLength(data: Uint8Array, start: number, end: number): number {
  let value = 0;
  for (let i = 0, shift = 0; i < 5; i++, shift += 7) {
    if (start + i >= end) throw compressionError('snappy', 'block ends inside its length preamble');
    const b = data[start + i]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) {
      if (value > 0xffffffff) break;
      return value;
    }
  }
  throw compressionError('snappy', 'block length preamble is longer than 32 bits');
}

function uncompressBlock(lib: SnappyLib, block: Uint8Array, expected: number): Buffer {
  let out: Buffer | string;
  try {
    out = lib.uncompressSync(block, { asBuffer: true });
  } catch (e) {
    throw wrapCodecError('snappy', 'decompression', e);
  }
  if (typeof out === 'string' || out.length !== expected) {
    throw compressionError(
      'snappy',
      `block decompressed to ${out.length} bytes, not the ${expected} it announced`,
    );
  }
  return out;
}

function decompressRaw(data: Uint8Array, max: number): Buffer {
  const length = rawUncompressedLength(data, 0, data.length);
  checkBound('snappy', length, max);
  return uncompressBlock(snappy(), data, length);
}

function decompressXerial(data: Uint8Array, max: number): Buffer {
  if (data.length < XERIAL_HEADER_SIZE) throw compressionError('snappy', 'xerial stream header is truncated');
  const buf = asBuffer(data);
  // First pass: find the blocks and add up the sizes they announce, so nothing is decompressed (or
  // allocated) for a stream whose output would exceed the bound.
  const starts: number[] = [];
  const ends: number[] = [];
  const sizes: number[] = [];
  let total = 0;
  let pos = XERIAL_HEADER_SIZE;
  while (pos < buf.length) {
    // snappy-java also reads concatenated streams, each starting with its own header.
    if (hasXerialMagic(buf, pos)) {
      if (buf.length - pos < XERIAL_HEADER_SIZE)
        throw compressionError('snappy', 'xerial stream header is truncated');
      pos += XERIAL_HEADER_SIZE;
      continue;
    }
    if (buf.length - pos < 4)
      throw compressionError('snappy', `xerial block length at offset ${pos} is truncated`);
    const n = buf.readInt32BE(pos);
    pos += 4;
    if (n < 0 || n > buf.length - pos) {
      throw compressionError(
        'snappy',
        `xerial block at offset ${pos - 4} has length ${n}, but ${buf.length - pos} bytes remain`,
      );
    }
    const size = rawUncompressedLength(buf, pos, pos + n);
    total += size;
    checkBound('snappy', total, max);
    starts.push(pos);
    ends.push(pos + n);
    sizes.push(size);
    pos += n;
  }
  const lib = snappy();
  if (starts.length === 1) return uncompressBlock(lib, buf.subarray(starts[0], ends[0]), sizes[0]!);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < starts.length; i++) {
    at += uncompressBlock(lib, buf.subarray(starts[i], ends[i]), sizes[i]!).copy(out, at);
  }
  return out;
}

/** Decompresses raw or xerial-framed snappy, whichever `data` is. */
export function snappyDecompressSync(data: Uint8Array, max: number): Buffer {
  if (data.length === 0) throw compressionError('snappy', 'input is empty');
  return hasXerialMagic(data, 0) ? decompressXerial(data, max) : decompressRaw(data, max);
}

/** One raw snappy block (what librdkafka writes). */
export function snappyCompressRawSync(data: Uint8Array): Buffer {
  try {
    return snappy().compressSync(data);
  } catch (e) {
    throw wrapCodecError('snappy', 'compression', e);
  }
}

/** Xerial-framed snappy, as Kafka's Java producer writes it. */
export function snappyCompressSync(data: Uint8Array): Buffer {
  const lib = snappy();
  const parts: Buffer[] = [];
  const header = Buffer.allocUnsafe(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(XERIAL_VERSION, 8);
  header.writeInt32BE(XERIAL_COMPATIBLE_VERSION, 12);
  parts.push(header);
  let total = XERIAL_HEADER_SIZE;
  try {
    for (let at = 0; at < data.length; at += XERIAL_BLOCK_SIZE) {
      const block = lib.compressSync(data.subarray(at, Math.min(at + XERIAL_BLOCK_SIZE, data.length)));
      const len = Buffer.allocUnsafe(4);
      len.writeInt32BE(block.length, 0);
      parts.push(len, block);
      total += 4 + block.length;
    }
  } catch (e) {
    throw wrapCodecError('snappy', 'compression', e);
  }
  return Buffer.concat(parts, total);
}
