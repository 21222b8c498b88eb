/**
 * A RowBinary reader: ClickHouse's binary row format, little-endian fixed-width integers, LEB128
 * lengths, Nullable as a 0/1 byte before the value. Strings come back as views into the response
 * (no copy) or decoded as UTF-8 where they are names.
 */

const TWO_32 = 4294967296;

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
