/**
 * RowBinary, ClickHouse's binary row format: little-endian fixed-width integers, LEB128 lengths,
 * Nullable as a 0/1 byte before the value, Array as its length then its elements, Tuple as its
 * elements in order. The reader gives strings as views into the response (no copy) or decoded as UTF-8
 * where they are names; the writer copies bytes as they are (no escaping, no text to parse), which is
 * how the rows of kch's own topic tables are inserted.
 */
import { ByteWriter } from './byte-writer.js';

const TWO_32 = 4294967296;
/** Below this many bytes a loop copies faster than Buffer#copy's native call. */
const SHORT_COPY = 32;

export class RowBinaryError extends Error {
  override readonly name = 'RowBinaryError';
}

export class RowBinaryReader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new RowBinaryError(
        `RowBinary response ends at byte ${this.buf.length}, but ${n} more bytes were expected at ${this.pos}`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  i8(): number {
    this.need(1);
    const v = this.buf.readInt8(this.pos);
    this.pos += 1;
    return v;
  }

  i16(): number {
    this.need(2);
    const v = this.buf.readInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** Int64 as a number: exact within ±2^53, which offsets and millisecond timestamps are. */
  i64(): number {
    this.need(8);
    const v = readInt64(this.buf, this.pos);
    this.pos += 8;
    return v;
  }

  /** UInt64 as a number (exact below 2^53). */
  u64(): number {
    this.need(8);
    const v = this.buf.readUInt32LE(this.pos + 4) * TWO_32 + this.buf.readUInt32LE(this.pos);
    this.pos += 8;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift < 63; shift += 7) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new RowBinaryError(`RowBinary length at ${this.pos} is too long`);
  }

  /** A String as a view into the response. */
  bytes(): Buffer {
    const n = this.uvarint();
    this.need(n);
    const at = this.pos;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  string(): string {
    const n = this.uvarint();
    this.need(n);
    const at = this.pos;
    this.pos += n;
    return this.buf.toString('utf8', at, at + n);
  }

  isNull(): boolean {
    return this.u8() !== 0;
  }

  nullableString(): string | null {
    return this.isNull() ? null : this.string();
  }

  nullableI64(): number | null {
    return this.isNull() ? null : this.i64();
  }
}

/** Little-endian Int64 at `at` as a number. */
export function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32LE(at + 4) * TWO_32 + buf.readUInt32LE(at);
}

/** Rows in RowBinary; the caller writes each row's columns in the order of the insert's column list. */
export class RowBinaryWriter extends ByteWriter {
  i8(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }

  i16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16LE(v, this.pos);
    this.pos += 2;
    return this;
  }

  i32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.pos);
    this.pos += 4;
    return this;
  }

  /** Int64 from a safe integer (offsets, millisecond timestamps and deltas are). */
  i64(v: number): this {
    this.ensure(8);
    const hi = Math.floor(v / TWO_32);
    this.buf.writeUInt32LE(v - hi * TWO_32, this.pos);
    this.buf.writeInt32LE(hi, this.pos + 4);
    this.pos += 8;
    return this;
  }

  big64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64LE(v, this.pos);
    this.pos += 8;
    return this;
  }

  /** A LEB128 length (what precedes a String and an Array). */
  uvarint(n: number): this {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (n >= 0x80) {
      b[p++] = (n & 0x7f) | 0x80;
      n = Math.floor(n / 128);
    }
    b[p++] = n;
    this.pos = p;
    return this;
  }

  /** A String: `src[start, end)` as it is. */
  string(src: Buffer, start: number, end: number): this {
    const n = end - start;
    this.uvarint(n);
    this.ensure(n);
    if (n < SHORT_COPY) {
      const b = this.buf;
      let p = this.pos;
      for (let i = start; i < end; i++) b[p++] = src[i]!;
    } else src.copy(this.buf, this.pos, start, end);
    this.pos += n;
    return this;
  }

  /** A Nullable's flag: 1 for NULL (nothing follows), 0 before a value. */
  nullFlag(isNull: boolean): this {
    return this.byte(isNull ? 1 : 0);
  }
}
