import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Portable } from '../src/records/crc32.js';
import { crc32c, crc32cUpdate } from '../src/records/crc32c.js';

/** Bit-at-a-time CRC-32C straight from the definition, to check the sliced tables against. */
function referenceCrc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

const range = (from: number, to: number) => Uint8Array.from({ length: to - from }, (_, i) => from + i);

describe('crc32c', () => {
  it('matches the standard check value and the empty input', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('matches the RFC 3720 (iSCSI) test vectors', () => {
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(range(0, 32))).toBe(0x46dd794e);
    expect(crc32c(range(0, 32).reverse())).toBe(0x113fdb5c);
  });

  it('returns unsigned values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBeGreaterThan(0x7fffffff);
  });

  it('agrees with a bit-at-a-time implementation on any input and alignment', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(16), (bytes, pad) => {
        const padded = new Uint8Array(pad + bytes.length);
        padded.set(bytes, pad);
        expect(crc32c(padded, pad)).toBe(referenceCrc32c(bytes));
      }),
    );
  });

  it('computes over a sub-range only', () => {
    const buf = Buffer.from('xx123456789yy');
    expect(crc32c(buf, 2, 11)).toBe(0xe3069283);
  });

  it('continues across chunks with crc32cUpdate', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (bytes, cut) => {
        const at = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
        const split = crc32cUpdate(crc32cUpdate(0, bytes, 0, at), bytes, at, bytes.length);
        expect(split).toBe(crc32c(bytes));
      }),
    );
  });

  it('rejects a range outside the buffer', () => {
    expect(() => crc32c(new Uint8Array(4), 0, 5)).toThrow(RangeError);
    expect(() => crc32c(new Uint8Array(4), 3, 2)).toThrow(RangeError);
    expect(() => crc32c(new Uint8Array(4), -1)).toThrow(RangeError);
  });
});

describe('crc32 (IEEE, legacy messages)', () => {
  it('matches the standard check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32Portable(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('gives the same result from the table and from node:zlib', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(8), (bytes, start) => {
        const s = Math.min(start, bytes.length);
        expect(crc32(bytes, s)).toBe(crc32Portable(bytes, s));
      }),
    );
  });

  it('rejects a range outside the buffer', () => {
    expect(() => crc32(new Uint8Array(4), 0, 5)).toThrow(RangeError);
    expect(() => crc32Portable(new Uint8Array(4), 2, 1)).toThrow(RangeError);
  });
});
