/**
 * CRC-32C (Castagnoli), the checksum of RecordBatch v2.
 *
 * Slicing-by-8: eight 256-entry tables let the loop fold eight input bytes per iteration instead of
 * one, which is what makes checksumming a whole batch on the produce path cheap enough.
 */

/** The reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;

const TABLES: Uint32Array = buildTables();

function buildTables(): Uint32Array {
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[i] = c >>> 0;
  }
  // Table k answers "the CRC of byte i followed by k zero bytes", so eight lookups combine eight bytes.
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const prev = t[(k - 1) * 256 + i]!;
      t[k * 256 + i] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
}

/**
 * Continues a CRC-32C over `buf[start..end)`. `crc` is a previous result (0 to start), so a checksum
 * over several buffers can be computed without concatenating them.
 */
export function crc32cUpdate(crc: number, buf: Uint8Array, start = 0, end: number = buf.length): number {
  if (!(start >= 0 && start <= end && end <= buf.length)) {
    throw new RangeError(`crc32c range ${start}..${end} is outside a buffer of ${buf.length} bytes`);
  }
  const t = TABLES;
  let c = ~crc;
  let i = start;
  const end8 = end - 8;
  for (; i <= end8; i += 8) {
    const lo = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    c =
      t[1792 + (lo & 0xff)]! ^
      t[1536 + ((lo >>> 8) & 0xff)]! ^
      t[1280 + ((lo >>> 16) & 0xff)]! ^
      t[1024 + (lo >>> 24)]! ^
      t[768 + buf[i + 4]!]! ^
      t[512 + buf[i + 5]!]! ^
      t[256 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!;
  }
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32C of `buf[start..end)`, as an unsigned 32-bit number. */
export function crc32c(buf: Uint8Array, start = 0, end: number = buf.length): number {
  return crc32cUpdate(0, buf, start, end);
}
