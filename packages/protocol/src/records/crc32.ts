/**
 * CRC-32 (IEEE), the checksum of legacy messages (magic 0 and 1). node:zlib has a native crc32 from
 * Node 20.15 and 22.2; earlier Node 20 releases get the table version.
 */
import * as zlib from 'node:zlib';

type NativeCrc32 = (data: Uint8Array, value?: number) => number;
const native = (zlib as unknown as { crc32?: NativeCrc32 }).crc32;

const TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

function checkRange(buf: Uint8Array, start: number, end: number): void {
  if (!(start >= 0 && start <= end && end <= buf.length)) {
    throw new RangeError(`crc32 range ${start}..${end} is outside a buffer of ${buf.length} bytes`);
  }
}

/** The table-driven CRC-32, used when node:zlib has none (exported for tests). */
export function crc32Portable(buf: Uint8Array, start = 0, end: number = buf.length): number {
  checkRange(buf, start, end);
  let c = -1;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of `buf[start..end)`, unsigned. */
export function crc32(buf: Uint8Array, start = 0, end: number = buf.length): number {
  if (native === undefined) return crc32Portable(buf, start, end);
  checkRange(buf, start, end);
  return native(buf.subarray(start, end)) >>> 0;
}
