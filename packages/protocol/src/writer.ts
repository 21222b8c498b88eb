import { KafkaCodecError } from './errors.js';

/** Byte fields at least this large are referenced as their own chunk instead of being copied. */
const ZERO_COPY_THRESHOLD = 8 * 1024;

/**
 * Writes Kafka's primitive types into a growable buffer.
 *
 * Output is a list of chunks: large byte fields (record batches in a Fetch response) are kept as
 * references to the caller's buffers rather than copied, so a socket can send them with `writev`.
 * Small values go into one growing buffer, so there is no allocation per field.
 */
export class Writer {
  private buf: Buffer;
  private pos = 0;
  /** Where the bytes not yet pushed to `chunks` start in `buf`. */
  private chunkStart = 0;
  private readonly chunks: Buffer[] = [];
  private chunkedLength = 0;
  /** Start offsets of open size-prefixed sections; zero-copy chunks are not taken inside them. */
  private readonly sections: number[] = [];

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.chunkedLength + this.pos - this.chunkStart;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const live = this.pos - this.chunkStart;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, live + n, 256));
    this.buf.copy(next, 0, this.chunkStart, this.pos);
    for (let i = 0; i < this.sections.length; i++) this.sections[i]! -= this.chunkStart;
    this.buf = next;
    this.pos = live;
    this.chunkStart = 0;
  }

  int8(v: number): this {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }

  uint8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  bool(v: boolean): this {
    return this.uint8(v ? 1 : 0);
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  uint16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  int64(v: bigint): this {
    this.ensure(8);
    this.buf.writeBigInt64BE(v, this.pos);
    this.pos += 8;
    return this;
  }

  float64(v: number): this {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    return this;
  }

  uuid(v: string): this {
    this.ensure(16);
    const n = this.buf.write(v, this.pos, 16, 'base64url');
    if (n !== 16 || v.length !== 22) {
      throw new KafkaCodecError('INVALID_LENGTH', `"${v}" is not a uuid (22 characters of URL-safe base64)`);
    }
    this.pos += 16;
    return this;
  }

  uvarint(v: number): this {
    if (!(v >= 0 && v <= 0xffffffff))
      throw new KafkaCodecError('INVALID_LENGTH', `${v} does not fit an unsigned varint`);
    this.ensure(5);
    const b = this.buf;
    while (v >= 0x80) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    b[this.pos++] = v;
    return this;
  }

  varint(v: number): this {
    return this.uvarint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  varlong(v: bigint): this {
    let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    this.ensure(10);
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
    return this;
  }

  /** Zig-zag varlong from a number (record deltas): no bigint per record. Exact for |v| <= 2^52. */
  varlongNumber(v: number): this {
    let u = v >= 0 ? v * 2 : -v * 2 - 1;
    this.ensure(10);
    while (u >= 0x80) {
      this.buf[this.pos++] = (u % 128) | 0x80;
      u = Math.floor(u / 128);
    }
    this.buf[this.pos++] = u;
    return this;
  }

  private lengthPrefix(n: number, compact: boolean, wide: boolean): void {
    if (compact) this.uvarint(n + 1);
    else if (wide) this.int32(n);
    else {
      if (n > 0x7fff)
        throw new KafkaCodecError('INVALID_LENGTH', `string of ${n} bytes is longer than 32767`);
      this.int16(n);
    }
  }

  nullableString(v: string | null, compact: boolean): this {
    if (v === null) {
      this.lengthPrefix(-1, compact, false);
      return this;
    }
    const n = Buffer.byteLength(v, 'utf8');
    this.lengthPrefix(n, compact, false);
    this.ensure(n);
    this.buf.write(v, this.pos, n, 'utf8');
    this.pos += n;
    return this;
  }

  string(v: string, compact: boolean): this {
    if (v === null)
      throw new KafkaCodecError('NULL_NOT_ALLOWED', 'null where a non-nullable string is required');
    return this.nullableString(v, compact);
  }

  /**
   * Bytes, or a list of byte chunks written as one field: a Fetch response gives a partition's record
   * batches as they are stored, without concatenating them.
   */
  nullableBytes(v: Uint8Array | readonly Uint8Array[] | null, compact: boolean): this {
    if (v === null) {
      this.lengthPrefix(-1, compact, true);
      return this;
    }
    if (v instanceof Uint8Array) {
      this.lengthPrefix(v.length, compact, true);
      return this.raw(v);
    }
    let n = 0;
    for (const chunk of v) n += chunk.length;
    this.lengthPrefix(n, compact, true);
    for (const chunk of v) this.raw(chunk);
    return this;
  }

  bytes(v: Uint8Array | readonly Uint8Array[], compact: boolean): this {
    if (v === null)
      throw new KafkaCodecError('NULL_NOT_ALLOWED', 'null where non-nullable bytes are required');
    return this.nullableBytes(v, compact);
  }

  /** Appends bytes as they are: referenced when large, copied when small. */
  raw(v: Uint8Array): this {
    if (v.length >= ZERO_COPY_THRESHOLD && this.sections.length === 0) {
      this.flushChunk();
      const b = Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      this.chunks.push(b);
      this.chunkedLength += b.length;
      return this;
    }
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
    return this;
  }

  arrayLength(n: number | null, compact: boolean): this {
    if (n === null) n = -1;
    if (compact) this.uvarint(n + 1);
    else this.int32(n);
    return this;
  }

  /** Starts a section whose length is written before it as a uvarint (tagged fields). */
  beginUVarintSized(): void {
    this.sections.push(this.pos);
  }

  endUVarintSized(): void {
    // The section holds no referenced chunks, so all of it is in `buf` and can be shifted right to
    // make room for its length.
    const size = this.pos - this.sections.pop()!;
    let width = 1;
    for (let v = size; v >= 0x80; v = Math.floor(v / 128)) width++;
    // 5 bytes, not `width`: uvarint() below ensures 5 bytes from `begin`, and must not reallocate.
    this.ensure(5);
    const begin = this.pos - size;
    this.buf.copyWithin(begin + width, begin, this.pos);
    this.pos = begin;
    this.uvarint(size);
    this.pos = begin + width + size;
  }

  private flushChunk(): void {
    if (this.pos > this.chunkStart) {
      const c = this.buf.subarray(this.chunkStart, this.pos);
      this.chunks.push(c);
      this.chunkedLength += c.length;
      this.chunkStart = this.pos;
    }
  }

  /** The output as chunks for `writev`; the writer must not be used afterwards. */
  toChunks(): Buffer[] {
    this.flushChunk();
    return this.chunks;
  }

  /** The output as one buffer (copies only when large byte fields were referenced). */
  toBuffer(): Buffer {
    const chunks = this.toChunks();
    if (chunks.length === 1) return chunks[0]!;
    return Buffer.concat(chunks, this.chunkedLength);
  }
}
