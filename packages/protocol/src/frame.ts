import { KafkaCodecError } from './errors.js';

/** Bytes of the int32 size that precedes every Kafka request and response. */
const SIZE_BYTES = 4;
const INT32_MAX = 0x7fffffff;

export interface FrameSplitterOptions {
  /**
   * The largest frame accepted, in bytes, not counting the size prefix: the broker's maxRequestSize, Kafka's
   * `socket.request.max.bytes` (100 MiB by default).
   */
  readonly maxFrameSize: number;
}

/**
 * Splits a Kafka TCP byte stream into frames: each is a big-endian int32 size followed by that many bytes.
 *
 * Frames come back without the size prefix. A frame wholly inside one pushed chunk is a view of that chunk
 * (no copy), so chunks must not be reused or modified after they are pushed, and a retained frame keeps its
 * chunk alive. A frame whose body spans chunks is copied into one buffer of exactly its size, allocated when
 * its first body byte arrives (a prefix that ends a chunk is held until then, so the body may still be a view).
 *
 * The size is validated as Kafka's NetworkReceive does before anything is allocated for the frame: negative
 * or over `maxFrameSize` throws a {@link KafkaCodecError}; zero is accepted, so the request header decoder
 * reports the empty frame. After an error the stream cannot be resynchronised, so every later `push`
 * throws the same error: close the connection.
 */
export class FrameSplitter {
  readonly maxFrameSize: number;
  /** The frame being filled across chunks, allocated at its announced size. */
  private pending: Buffer | null = null;
  private pendingFilled = 0;
  /**
   * A size prefix not yet followed by any body byte: split across chunks, or complete (4) and awaiting its
   * body. Allocated once per splitter rather than per split.
   */
  private readonly sizeBuf = Buffer.alloc(SIZE_BYTES);
  private sizeFilled = 0;
  private failure: KafkaCodecError | null = null;

  constructor(options: FrameSplitterOptions) {
    const max = options.maxFrameSize;
    if (!Number.isInteger(max) || max < 0 || max > INT32_MAX) {
      throw new RangeError(`maxFrameSize must be an integer from 0 to ${INT32_MAX}, got ${max}`);
    }
    this.maxFrameSize = max;
  }

  /** Bytes pushed that are not yet part of a returned frame, size prefix included. */
  get bufferedBytes(): number {
    return this.pending === null ? this.sizeFilled : SIZE_BYTES + this.pendingFilled;
  }

  /**
   * Consumes one chunk of the stream and returns the frames it completes, in order (possibly none).
   *
   * Throws {@link KafkaCodecError} ('INVALID_LENGTH' for a negative size, 'FRAME_TOO_LARGE' over the maximum);
   * frames completed earlier in the same chunk are then dropped along with the connection.
   */
  push(chunk: Buffer): Buffer[] {
    if (this.failure !== null) throw this.failure;
    const frames: Buffer[] = [];
    const end = chunk.length;
    let off = 0;

    if (this.pending !== null) {
      const pending = this.pending;
      const need = pending.length - this.pendingFilled;
      if (end < need) {
        chunk.copy(pending, this.pendingFilled);
        this.pendingFilled += end;
        return frames;
      }
      chunk.copy(pending, this.pendingFilled, 0, need);
      frames.push(pending);
      this.pending = null;
      this.pendingFilled = 0;
      off = need;
    } else if (this.sizeFilled > 0) {
      const take = Math.min(SIZE_BYTES - this.sizeFilled, end);
      chunk.copy(this.sizeBuf, this.sizeFilled, 0, take);
      this.sizeFilled += take;
      off = take;
      if (this.sizeFilled < SIZE_BYTES) return frames;
      const size = this.checkSize(this.sizeBuf.readInt32BE(0), this.sizeBuf, 0);
      if (end - off >= size) {
        // Only the prefix was split: the body is whole in this chunk, so it can still be a view.
        this.sizeFilled = 0;
        frames.push(chunk.subarray(off, off + size));
        off += size;
      } else {
        if (off < end) this.startPending(size, chunk, off);
        // else: no body byte yet, so keep the complete prefix and wait; the body may yet arrive whole.
        return frames;
      }
    }

    while (end - off >= SIZE_BYTES) {
      const size = this.checkSize(chunk.readInt32BE(off), chunk, off);
      const body = off + SIZE_BYTES;
      if (end - body < size) {
        if (body < end) {
          this.startPending(size, chunk, body);
        } else {
          // The prefix ends the chunk (clients often write it separately): wait for the body before
          // allocating, as it may arrive whole in the next chunk and then needs no copy.
          chunk.copy(this.sizeBuf, 0, off);
          this.sizeFilled = SIZE_BYTES;
        }
        return frames;
      }
      frames.push(chunk.subarray(body, body + size));
      off = body + size;
    }

    if (off < end) {
      chunk.copy(this.sizeBuf, 0, off);
      this.sizeFilled = end - off;
    }
    return frames;
  }

  private startPending(size: number, chunk: Buffer, from: number): void {
    this.sizeFilled = 0;
    const pending = Buffer.allocUnsafe(size);
    this.pendingFilled = chunk.copy(pending, 0, from);
    this.pending = pending;
  }

  /** Returns `size` if acceptable; otherwise records and throws the error. `at` is where the prefix starts. */
  private checkSize(size: number, prefix: Buffer, at: number): number {
    if (size >= 0 && size <= this.maxFrameSize) return size;
    this.failure = frameSizeError(size, this.maxFrameSize, prefix, at);
    throw this.failure;
  }
}

function frameSizeError(size: number, max: number, prefix: Buffer, at: number): KafkaCodecError {
  if (size < 0) {
    // The HTTP and TLS openings recognised below all read as positive sizes, so no hint applies here.
    return new KafkaCodecError(
      'INVALID_LENGTH',
      `invalid frame size ${size} (a Kafka frame starts with a size from 0 to the limit of ${max} bytes): ` +
        'the stream is not Kafka framing or is out of step. Check that the client speaks the Kafka protocol.',
    );
  }
  return new KafkaCodecError(
    'FRAME_TOO_LARGE',
    `frame of ${size} bytes exceeds the limit of ${max} bytes. ` +
      (foreignProtocolHint(prefix, at) ??
        'If the client really sends requests this large, raise the broker maxRequestSize ' +
          "(Kafka's socket.request.max.bytes); otherwise check that the client speaks the Kafka protocol."),
  );
}

/** HTTP methods whose first four bytes, read as a size, give the huge sizes seen when HTTP hits the port. */
const HTTP_PREFIXES = ['GET ', 'POST', 'HEAD', 'PUT ', 'DELE', 'PATC', 'OPTI', 'CONN', 'PRI '];

/** Explains a bad size whose bytes are recognisably another protocol; undefined if they are not. */
function foreignProtocolHint(prefix: Buffer, at: number): string | undefined {
  // TLS record: content type 22 (handshake), major version 3, minor version 0 (SSL 3.0) to 4 (TLS 1.3).
  if (prefix[at] === 0x16 && prefix[at + 1] === 0x03 && prefix[at + 2]! <= 0x04) {
    return (
      'The bytes look like a TLS handshake (0x16 0x03): the client uses SSL/TLS (security.protocol=SSL or ' +
      'SASL_SSL) on a plaintext listener. Enable TLS on this listener, or connect with security.protocol=PLAINTEXT.'
    );
  }
  const text = prefix.toString('latin1', at, at + SIZE_BYTES);
  if (HTTP_PREFIXES.includes(text)) {
    return (
      `The bytes look like an HTTP request ("${text.trimEnd()} ..."): an HTTP client (a browser, curl, a health ` +
      'check or a REST proxy) is connected to the Kafka port. Point it at a Kafka client port or an HTTP endpoint.'
    );
  }
  return undefined;
}

/**
 * Frames a response or request for `writev`: returns the 4-byte big-endian size of the payload chunks
 * followed by the chunks themselves (not copied).
 */
export function frameWithSize(chunks: readonly Buffer[]): Buffer[] {
  let size = 0;
  for (let i = 0; i < chunks.length; i++) size += chunks[i]!.length;
  if (size > INT32_MAX) {
    throw new KafkaCodecError('FRAME_TOO_LARGE', `frame of ${size} bytes exceeds the int32 size prefix`);
  }
  const prefix = Buffer.allocUnsafe(SIZE_BYTES);
  prefix.writeInt32BE(size, 0);
  const out: Buffer[] = [prefix];
  for (let i = 0; i < chunks.length; i++) out.push(chunks[i]!);
  return out;
}
