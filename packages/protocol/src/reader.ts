import { KafkaCodecError, truncated } from './errors.js';

/**
 * Reads Kafka's primitive types from a byte buffer.
 *
 * Every read checks the bounds first and throws a {@link KafkaCodecError}: malformed input never reads
 * past the end, and a length or count announced by the input is checked against what remains before
 * anything is allocated for it. Byte fields come back as views into the input (no copy).
 */
export class Reader {
  readonly buf: Buffer;
  offset: number;
  readonly end: number;

  constructor(buf: Uint8Array, offset = 0, end = buf.length) {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    if (offset < 0 || end > this.buf.length || offset > end) {
      throw new KafkaCodecError('INVALID_LENGTH', `reader range ${offset}..${end} is outside the buffer`);
    }
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Throws unless `n` more bytes can be read; returns the offset they start at. */
  take(n: number): number {
    const at = this.offset;
    if (n > this.end - at) throw truncated(n, at, this.end);
    this.offset = at + n;
    return at;
  }

  skip(n: number): void {
    this.take(n);
  }

  int8(): number {
    return this.buf.readInt8(this.take(1));
  }

  uint8(): number {
    return this.buf[this.take(1)]!;
  }

  bool(): boolean {
    return this.buf[this.take(1)] !== 0;
  }

  int16(): number {
    return this.buf.readInt16BE(this.take(2));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.take(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.take(4));
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }

  int64(): bigint {
    return this.buf.readBigInt64BE(this.take(8));
  }

  float64(): number {
    return this.buf.readDoubleBE(this.take(8));
  }

  /** A uuid as Kafka prints it: 22 characters of URL-safe base64 without padding. */
  uuid(): string {
    const at = this.take(16);
    return this.buf.toString('base64url', at, at + 16);
  }

  /** Unsigned LEB128 varint of at most 5 bytes (32 bits), as Kafka's ByteUtils.readUnsignedVarint. */
  uvarint(): number {
    // Fast paths: record fields are mostly one- or two-byte varints.
    const at = this.offset;
    if (at + 1 < this.end) {
      const b = this.buf[at]!;
      if (b < 0x80) {
        this.offset = at + 1;
        return b;
      }
      const b2 = this.buf[at + 1]!;
      if (b2 < 0x80) {
        this.offset = at + 2;
        return (b & 0x7f) | (b2 << 7);
      }
    }
    return this.uvarintSlow();
  }

  private uvarintSlow(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.offset >= this.end) throw truncated(1, this.offset, this.end);
      const b = this.buf[this.offset++]!;
      if (shift === 28 && b > 0x0f) {
        throw new KafkaCodecError(
          'INVALID_LENGTH',
          `varint at offset ${this.offset - 5} is longer than 32 bits`,
        );
      }
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new KafkaCodecError('INVALID_LENGTH', `varint at offset ${this.offset - 5} is longer than 5 bytes`);
  }

  /** Zig-zag encoded signed varint (32 bits). */
  varint(): number {
    const u = this.uvarint();
    // u fits 32 bits unsigned: the 32-bit operators decode zig-zag exactly.
    return (u >>> 1) ^ -(u & 1);
  }

  /** Zig-zag encoded signed varlong (64 bits), as a bigint. */
  varlong(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.offset >= this.end) throw truncated(1, this.offset, this.end);
      const b = this.buf[this.offset++]!;
      if (shift === 63n && b > 1) {
        throw new KafkaCodecError(
          'INVALID_LENGTH',
          `varlong ending at offset ${this.offset} is longer than 64 bits`,
        );
      }
      value |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return (value >> 1n) ^ -(value & 1n);
    }
    throw new KafkaCodecError(
      'INVALID_LENGTH',
      `varlong ending at offset ${this.offset} is longer than 10 bytes`,
    );
  }

  /**
   * Zig-zag varlong read into a number. Record timestamp and offset deltas are varlongs on the wire but
   * in practice small; this avoids a bigint per record. Exact for |value| <= 2^52 (the zig-zag form must
   * fit 2^53); callers use it only where Kafka's own values fit.
   */
  varlongNumber(): number {
    const at = this.offset;
    if (at < this.end) {
      const b = this.buf[at]!;
      if (b < 0x80) {
        this.offset = at + 1;
        return (b >>> 1) ^ -(b & 1);
      }
    }
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.offset >= this.end) throw truncated(1, this.offset, this.end);
      const b = this.buf[this.offset++]!;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        // zig-zag decode without 32-bit bitwise operators, which would truncate
        return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      }
    }
    throw new KafkaCodecError(
      'INVALID_LENGTH',
      `varlong ending at offset ${this.offset} is longer than 10 bytes`,
    );
  }

  /** A length prefix: int16/int32 classic, or uvarint minus one when compact. -1 means null. */
  private length(compact: boolean, wide: boolean): number {
    const at = this.offset;
    const n = compact ? this.uvarint() - 1 : wide ? this.int32() : this.int16();
    if (n < -1) throw new KafkaCodecError('INVALID_LENGTH', `negative length ${n} at offset ${at}`);
    if (n > this.end - this.offset) throw truncated(n, this.offset, this.end);
    return n;
  }

  nullableString(compact: boolean): string | null {
    const n = this.length(compact, false);
    if (n < 0) return null;
    const at = this.offset;
    this.offset += n;
    return this.buf.toString('utf8', at, at + n);
  }

  string(compact: boolean): string {
    const at = this.offset;
    const s = this.nullableString(compact);
    if (s === null)
      throw new KafkaCodecError('NULL_NOT_ALLOWED', `null string at offset ${at} where none is allowed`);
    return s;
  }

  /** Bytes as a view into the input, not a copy. */
  nullableBytes(compact: boolean): Buffer | null {
    const n = this.length(compact, true);
    if (n < 0) return null;
    const at = this.offset;
    this.offset += n;
    return this.buf.subarray(at, at + n);
  }

  bytes(compact: boolean): Buffer {
    const at = this.offset;
    const b = this.nullableBytes(compact);
    if (b === null)
      throw new KafkaCodecError('NULL_NOT_ALLOWED', `null bytes at offset ${at} where none are allowed`);
    return b;
  }

  /** `n` raw bytes as a view. */
  raw(n: number): Buffer {
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }

  /**
   * An array count: -1 for null. Each element takes at least one byte, so a count larger than the
   * bytes that remain is rejected before an array is allocated for it.
   */
  arrayLength(compact: boolean): number {
    const at = this.offset;
    const n = compact ? this.uvarint() - 1 : this.int32();
    if (n < -1) throw new KafkaCodecError('INVALID_LENGTH', `negative array length ${n} at offset ${at}`);
    if (n > this.end - this.offset) {
      throw new KafkaCodecError(
        'INVALID_LENGTH',
        `array at offset ${at} announces ${n} elements but only ${this.end - this.offset} bytes remain`,
      );
    }
    return n;
  }

  /** Reads a non-nullable array of elements with `read`. */
  array<T>(compact: boolean, read: (r: Reader) => T): T[] {
    const at = this.offset;
    const out = this.nullableArray(compact, read);
    if (out === null)
      throw new KafkaCodecError('NULL_NOT_ALLOWED', `null array at offset ${at} where none is allowed`);
    return out;
  }

  nullableArray<T>(compact: boolean, read: (r: Reader) => T): T[] | null {
    const n = this.arrayLength(compact);
    if (n < 0) return null;
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = read(this);
    return out;
  }
}
