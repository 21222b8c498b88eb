import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KafkaCodecError } from '../src/errors.js';
import { FrameSplitter, frameWithSize } from '../src/frame.js';

const MiB = 1024 * 1024;

/** The wire form of `payloads`: each preceded by its int32 size. */
function encode(payloads: readonly Uint8Array[]): Buffer {
  return Buffer.concat(payloads.flatMap((p) => frameWithSize([Buffer.from(p)])));
}

/**
 * Cuts `stream` at `cuts` (any order; repeats give empty chunks). Each chunk has its own ArrayBuffer (Buffer.alloc
 * does not use the shared pool), so `frame.buffer === chunk.buffer` tells exactly whether a frame is a view.
 */
function cut(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [0, ...cutPositions(stream, cuts), stream.length];
  return at.slice(1).map((end, i) => {
    const chunk = Buffer.alloc(end - at[i]!);
    stream.copy(chunk, 0, at[i]!, end);
    return chunk;
  });
}

function cutPositions(stream: Buffer, cuts: readonly number[]): number[] {
  return cuts.map((c) => c % (stream.length + 1)).sort((a, b) => a - b);
}

function codecError(fn: () => unknown): KafkaCodecError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KafkaCodecError);
    return e as KafkaCodecError;
  }
  throw new Error('expected a KafkaCodecError');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('FrameSplitter', () => {
  it('returns the frames of any chunking, copying only frames that span chunks, once each', () => {
    const payload = fc.oneof(
      { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 4000, maxLength: 9000 }) },
    );
    fc.assert(
      fc.property(
        fc.array(payload, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 25 }),
        (payloads, cuts) => {
          const stream = encode(payloads);
          const chunks = cut(stream, cuts);
          // A frame must be copied exactly when a cut falls strictly inside its body; a cut inside or right
          // after its size prefix still leaves the body whole in one chunk.
          const positions = cutPositions(stream, cuts);
          let frameStart = 0;
          const mustCopy = payloads.map((p) => {
            const start = frameStart + 4;
            const end = start + p.length;
            frameStart = end;
            return positions.some((c) => c > start && c < end);
          });

          const splitter = new FrameSplitter({ maxFrameSize: 10_000 });
          const alloc = vi.spyOn(Buffer, 'allocUnsafe');
          const out: Buffer[] = [];
          const copied: boolean[] = [];
          for (const chunk of chunks) {
            for (const frame of splitter.push(chunk)) {
              out.push(frame);
              copied.push(frame.buffer !== chunk.buffer);
            }
          }
          const allocSizes = alloc.mock.calls.map((c) => c[0]);
          alloc.mockRestore();

          // Hex, because deep equality on multi-kilobyte buffers is slow enough to limit the runs.
          expect(out.map((f) => f.toString('hex'))).toEqual(
            payloads.map((p) => Buffer.from(p).toString('hex')),
          );
          expect(splitter.bufferedBytes).toBe(0);
          expect(copied).toEqual(mustCopy);
          // One allocation per copied frame, of exactly its size.
          expect(allocSizes).toEqual(payloads.filter((_, i) => mustCopy[i]).map((p) => p.length));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('returns views of the chunk, without copying, when frames are whole in it', () => {
    const chunk = encode([Buffer.from('abc'), Buffer.alloc(0), Buffer.from('defgh')]);
    const alloc = vi.spyOn(Buffer, 'allocUnsafe');
    const frames = new FrameSplitter({ maxFrameSize: 100 }).push(chunk);
    expect(alloc).not.toHaveBeenCalled();
    expect(frames.map(String)).toEqual(['abc', '', 'defgh']);
    expect(frames[0]!.buffer).toBe(chunk.buffer);
    expect(frames[0]!.byteOffset).toBe(chunk.byteOffset + 4);
    expect(frames[2]!.byteOffset).toBe(chunk.byteOffset + 15);
  });

  it('handles the stream cut at every position, once and twice', () => {
    const payloads = [
      Buffer.from('first frame'),
      Buffer.alloc(0),
      Buffer.from('x'),
      Buffer.from('the last one'),
    ];
    const stream = encode(payloads);
    const expected = payloads.map(String);
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        const splitter = new FrameSplitter({ maxFrameSize: 64 });
        const frames = [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)].flatMap((c) =>
          splitter.push(Buffer.from(c)),
        );
        expect(frames.map(String), `cut at ${i} and ${j}`).toEqual(expected);
        expect(splitter.bufferedBytes).toBe(0);
      }
    }
  });

  it('does not copy a body that arrives whole after its size prefix was sent on its own', () => {
    const splitter = new FrameSplitter({ maxFrameSize: 100 });
    expect(splitter.push(Buffer.from([0, 0, 0, 3]))).toEqual([]);
    expect(splitter.bufferedBytes).toBe(4);
    const body = Buffer.from('abc');
    const alloc = vi.spyOn(Buffer, 'allocUnsafe');
    const [frame] = splitter.push(body);
    expect(alloc).not.toHaveBeenCalled();
    expect(frame!.buffer).toBe(body.buffer);
    expect(String(frame)).toBe('abc');
    expect(splitter.bufferedBytes).toBe(0);
  });

  it('reassembles a size prefix fed one byte at a time', () => {
    const stream = encode([Buffer.from('hello'), Buffer.from('kafka')]);
    const splitter = new FrameSplitter({ maxFrameSize: 64 });
    const frames: string[] = [];
    for (const byte of stream) frames.push(...splitter.push(Buffer.from([byte])).map(String));
    expect(frames).toEqual(['hello', 'kafka']);
  });

  it('counts buffered bytes, size prefix included', () => {
    const splitter = new FrameSplitter({ maxFrameSize: 64 });
    expect(splitter.bufferedBytes).toBe(0);
    expect(splitter.push(Buffer.from([0, 0]))).toEqual([]);
    expect(splitter.bufferedBytes).toBe(2);
    expect(splitter.push(Buffer.from([0, 5, 1, 2, 3]))).toEqual([]);
    expect(splitter.bufferedBytes).toBe(7);
    expect(splitter.push(Buffer.from([4, 5, 0]))).toEqual([Buffer.from([1, 2, 3, 4, 5])]);
    expect(splitter.bufferedBytes).toBe(1);
  });

  it('returns zero-length frames as empty buffers', () => {
    const splitter = new FrameSplitter({ maxFrameSize: 0 });
    expect(splitter.push(Buffer.from([0, 0, 0, 0, 0, 0]))).toEqual([Buffer.alloc(0)]);
    expect(splitter.push(Buffer.from([0, 0]))).toEqual([Buffer.alloc(0)]);
  });

  it('accepts a frame of exactly maxFrameSize and rejects one byte more', () => {
    expect(new FrameSplitter({ maxFrameSize: 3 }).push(encode([Buffer.from('abc')]))).toHaveLength(1);
    const e = codecError(() => new FrameSplitter({ maxFrameSize: 2 }).push(encode([Buffer.from('abc')])));
    expect(e.code).toBe('FRAME_TOO_LARGE');
    expect(e.message).toContain('frame of 3 bytes exceeds the limit of 2 bytes');
  });

  it('rejects an oversized frame from its size prefix alone, before allocating', () => {
    const splitter = new FrameSplitter({ maxFrameSize: 100 * MiB });
    const alloc = vi.spyOn(Buffer, 'allocUnsafe');
    const alloc2 = vi.spyOn(Buffer, 'alloc');
    const e = codecError(() => splitter.push(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0])));
    expect(alloc).not.toHaveBeenCalled();
    expect(alloc2).not.toHaveBeenCalled();
    expect(e.code).toBe('FRAME_TOO_LARGE');
    expect(e.message).toContain(`frame of ${0x7fffffff} bytes exceeds the limit of ${100 * MiB} bytes`);
    expect(e.message).toContain('socket.request.max.bytes');
  });

  it('rejects an oversized size prefix split across chunks as soon as it is complete', () => {
    const splitter = new FrameSplitter({ maxFrameSize: 1000 });
    expect(splitter.push(Buffer.from([0, 0]))).toEqual([]);
    const e = codecError(() => splitter.push(Buffer.from([0x03, 0xe9])));
    expect(e.code).toBe('FRAME_TOO_LARGE');
    expect(e.message).toContain('frame of 1001 bytes exceeds the limit of 1000 bytes');
  });

  it('rejects a negative size', () => {
    const e = codecError(() =>
      new FrameSplitter({ maxFrameSize: 1000 }).push(Buffer.from([0xff, 0xff, 0xff, 0xff])),
    );
    expect(e.code).toBe('INVALID_LENGTH');
    expect(e.message).toContain('invalid frame size -1');
    expect(e.message).toContain('1000 bytes');
    expect(e.message).toContain('Kafka protocol');
    const e2 = codecError(() => {
      const splitter = new FrameSplitter({ maxFrameSize: 1000 });
      splitter.push(encode([Buffer.from('ok')]));
      splitter.push(Buffer.from([0x80, 0]));
      splitter.push(Buffer.from([0, 0]));
    });
    expect(e2.message).toContain(`invalid frame size ${-(2 ** 31)}`);
  });

  it('keeps failing after a bad size, since the stream cannot be resynchronised', () => {
    const splitter = new FrameSplitter({ maxFrameSize: 10 });
    const first = codecError(() => splitter.push(Buffer.from([0, 0, 0, 11])));
    expect(codecError(() => splitter.push(encode([Buffer.from('fine')])))).toBe(first);
  });

  it.each([
    ['GET / HTTP/1.1\r\nHost: broker:9092\r\n\r\n', 'GET'],
    ['POST /v3/clusters HTTP/1.1\r\n', 'POST'],
    ['HEAD / HTTP/1.0\r\n\r\n', 'HEAD'],
    ['PUT /x HTTP/1.1\r\n', 'PUT'],
  ])('recognises an HTTP request (%j)', (request, method) => {
    const bytes = Buffer.from(request, 'latin1');
    const e = codecError(() => new FrameSplitter({ maxFrameSize: 100 * MiB }).push(bytes));
    expect(e.code).toBe('FRAME_TOO_LARGE');
    expect(e.message).toContain(
      `frame of ${bytes.readInt32BE(0)} bytes exceeds the limit of ${100 * MiB} bytes`,
    );
    expect(e.message).toContain(`look like an HTTP request ("${method} ...")`);
    expect(e.message).not.toContain('socket.request.max.bytes');
  });

  it('recognises a TLS handshake, even with the record header split across chunks', () => {
    // A TLS 1.2 record header (handshake, version 3.1, length 512) followed by a ClientHello's first bytes.
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
    const splitter = new FrameSplitter({ maxFrameSize: 100 * MiB });
    expect(splitter.push(hello.subarray(0, 1))).toEqual([]);
    const e = codecError(() => splitter.push(hello.subarray(1)));
    expect(e.code).toBe('FRAME_TOO_LARGE');
    expect(e.message).toContain(`frame of ${0x16030102} bytes`);
    expect(e.message).toContain('TLS handshake (0x16 0x03)');
    expect(e.message).toContain('security.protocol');
  });

  it('does not claim HTTP or TLS for other oversized sizes', () => {
    for (const bytes of [Buffer.from('GETX'), Buffer.from([0x16, 0x03, 0x7f, 0x00])]) {
      const e = codecError(() => new FrameSplitter({ maxFrameSize: 10 }).push(bytes));
      expect(e.message).not.toMatch(/HTTP|TLS/);
      expect(e.message).toContain('maxRequestSize');
    }
  });

  it('validates maxFrameSize', () => {
    expect(() => new FrameSplitter({ maxFrameSize: -1 })).toThrow(RangeError);
    expect(() => new FrameSplitter({ maxFrameSize: 1.5 })).toThrow(RangeError);
    expect(() => new FrameSplitter({ maxFrameSize: 2 ** 31 })).toThrow(RangeError);
    expect(new FrameSplitter({ maxFrameSize: 2 ** 31 - 1 }).maxFrameSize).toBe(2 ** 31 - 1);
  });
});

describe('frameWithSize', () => {
  it('prepends the total size and passes the chunks through uncopied', () => {
    const a = Buffer.from('abc');
    const b = Buffer.from('defg');
    const framed = frameWithSize([a, b]);
    expect(framed).toHaveLength(3);
    expect(framed[0]).toEqual(Buffer.from([0, 0, 0, 7]));
    expect(framed[1]).toBe(a);
    expect(framed[2]).toBe(b);
    expect(frameWithSize([])).toEqual([Buffer.from([0, 0, 0, 0])]);
  });

  it('round-trips through FrameSplitter', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 4 }), { maxLength: 8 }),
        (frames) => {
          const stream = Buffer.concat(
            frames.flatMap((parts) => frameWithSize(parts.map((p) => Buffer.from(p)))),
          );
          const out = new FrameSplitter({ maxFrameSize: 200 }).push(stream);
          expect(out).toEqual(frames.map((parts) => Buffer.concat(parts)));
        },
      ),
    );
  });

  it('rejects a total over the int32 size prefix', () => {
    // Only the lengths are read before the check, so no real gigabyte buffers are needed.
    const big = { length: 2 ** 30 } as unknown as Buffer;
    const e = codecError(() => frameWithSize([big, big]));
    expect(e.code).toBe('FRAME_TOO_LARGE');
  });
});
