import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KafkaCodecError, Reader, Writer } from '../src/index.js';

const bytesOf = (fill: (w: Writer) => void) => {
  const w = new Writer(4);
  fill(w);
  return w.toBuffer();
};

describe('varints', () => {
  it('encode as Kafka does at the edges', () => {
    expect(bytesOf((w) => w.uvarint(0))).toEqual(Buffer.from([0]));
    expect(bytesOf((w) => w.uvarint(127))).toEqual(Buffer.from([0x7f]));
    expect(bytesOf((w) => w.uvarint(128))).toEqual(Buffer.from([0x80, 0x01]));
    expect(bytesOf((w) => w.uvarint(0xffffffff))).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(bytesOf((w) => w.varint(-1))).toEqual(Buffer.from([0x01]));
    expect(bytesOf((w) => w.varint(1))).toEqual(Buffer.from([0x02]));
    expect(bytesOf((w) => w.varint(-(2 ** 31)))).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(bytesOf((w) => w.varlong(-(2n ** 63n)))).toEqual(
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    );
  });

  it('round-trip over their whole range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (v) => {
        expect(new Reader(bytesOf((w) => w.varint(v))).varint()).toBe(v);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
        expect(new Reader(bytesOf((w) => w.varlong(v))).varlong()).toBe(v);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 52), max: 2 ** 52 }), (v) => {
        const encoded = bytesOf((w) => w.varlongNumber(v));
        expect(encoded).toEqual(bytesOf((w) => w.varlong(BigInt(v))));
        expect(new Reader(encoded).varlongNumber()).toBe(v);
      }),
    );
  });

  it('reject overlong and truncated encodings with a typed error', () => {
    expect(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f])).uvarint()).toThrow(KafkaCodecError);
    expect(() => new Reader(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).uvarint()).toThrow(
      KafkaCodecError,
    );
    expect(() => new Reader(Buffer.from([0x80])).uvarint()).toThrow(/truncated/);
    expect(() => new Reader(Buffer.alloc(11, 0xff)).varlong()).toThrow(KafkaCodecError);
    expect(() => new Reader(Buffer.from([0x80, 0x80])).varlongNumber()).toThrow(/truncated/);
  });
});

describe('Reader', () => {
  it('checks lengths before reading or allocating', () => {
    expect(() => new Reader(Buffer.from([0x00, 0x05, 0x61])).string(false)).toThrow(/needed 5 byte/);
    expect(() => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff])).bytes(false)).toThrow(KafkaCodecError);
    expect(() => new Reader(Buffer.from([0xff, 0xfe])).nullableString(false)).toThrow(/negative length/);
    expect(new Reader(Buffer.from([0xff, 0xff])).nullableString(false)).toBeNull();
    expect(new Reader(Buffer.from([0x00])).nullableString(true)).toBeNull();
    expect(() => new Reader(Buffer.from([0x00])).string(true)).toThrow(/null string/);
    expect(() => new Reader(Buffer.from([0x01, 0x02])).int32()).toThrow(KafkaCodecError);
  });

  it('returns bytes as views, not copies', () => {
    const input = Buffer.from([0, 0, 0, 3, 1, 2, 3]);
    const b = new Reader(input).bytes(false);
    input[4] = 9;
    expect(b[0]).toBe(9);
  });
});

describe('Writer', () => {
  it('grows from a tiny buffer and keeps every byte', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 50 }), (strings) => {
        const w = new Writer(1);
        for (const s of strings) w.string(s, true);
        const r = new Reader(w.toBuffer());
        for (const s of strings) expect(r.string(true)).toBe(s);
        expect(r.remaining).toBe(0);
      }),
    );
  });

  it('references large byte fields instead of copying them', () => {
    const big = Buffer.alloc(64 * 1024, 7);
    const w = new Writer();
    w.int32(1).bytes(big, false).int16(2);
    const chunks = w.toChunks();
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toBe(big);
    expect(w.length).toBe(4 + 4 + big.length + 2);
  });

  it('writes a size-prefixed section with its length in front, across growth', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 1, max: 64 }), (data, initial) => {
        const w = new Writer(initial);
        w.int8(5);
        w.beginUVarintSized();
        w.raw(data);
        w.endUVarintSized();
        w.int8(6);
        const r = new Reader(w.toBuffer());
        expect(r.int8()).toBe(5);
        expect(r.raw(r.uvarint())).toEqual(Buffer.from(data));
        expect(r.int8()).toBe(6);
      }),
    );
  });

  it('rejects a uuid that is not 16 bytes of base64url', () => {
    expect(() => new Writer().uuid('not-a-uuid')).toThrow(/is not a uuid/);
  });
});
