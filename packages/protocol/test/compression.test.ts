import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CompressionType,
  compress,
  compressSync,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  decompress,
  decompressSync,
  hasSyncCodec,
  isXerialSnappy,
  snappyCompressRawSync,
  xxhash32,
  zstdOutputBound,
} from '../src/compression/index.js';
import { loadNative } from '../src/compression/native.js';
import { KafkaCodecError } from '../src/errors.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/compression/${name}`, import.meta.url));
const FOX = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(20));
const LINES = Buffer.from(
  Array.from(
    { length: 1400 },
    (_, i) => `line ${String(i % 97).padStart(4, '0')}: the quick brown fox jumps over the lazy dog\n`,
  ).join(''),
);
const ALL = [
  CompressionType.None,
  CompressionType.Gzip,
  CompressionType.Snappy,
  CompressionType.Lz4,
  CompressionType.Zstd,
];
const SYNC = ALL.filter((t) => t !== CompressionType.Zstd);

async function codecError(p: Promise<unknown> | (() => unknown)): Promise<KafkaCodecError> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KafkaCodecError);
    return e as KafkaCodecError;
  }
  throw new Error('expected a KafkaCodecError, but nothing was thrown');
}

describe('CompressionType', () => {
  it('has the ids of the Kafka attributes', () => {
    expect(CompressionType).toEqual({ None: 0, Gzip: 1, Snappy: 2, Lz4: 3, Zstd: 4 });
  });

  it('has synchronous codecs for everything but zstd', () => {
    expect(ALL.map(hasSyncCodec)).toEqual([true, true, true, true, false]);
    expect(hasSyncCodec(5)).toBe(false);
  });
});

describe('round trips', () => {
  for (const type of ALL) {
    it(`type ${type} round-trips async`, async () => {
      for (const data of [FOX, LINES, Buffer.alloc(0), Buffer.from([0])]) {
        const packed = await compress(type, data);
        expect(await decompress(type, packed)).toEqual(data);
      }
    });
  }

  for (const type of SYNC) {
    it(`type ${type} round-trips sync, and sync and async output are interchangeable`, async () => {
      const packed = compressSync(type, LINES);
      expect(decompressSync(type, packed)).toEqual(LINES);
      expect(await decompress(type, packed)).toEqual(LINES);
      expect(decompressSync(type, await compress(type, LINES))).toEqual(LINES);
    });
  }

  it('round-trips arbitrary bytes with every codec', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ALL), fc.uint8Array({ maxLength: 3000 }), async (type, bytes) => {
        const data = Buffer.from(bytes);
        expect(await decompress(type, await compress(type, data))).toEqual(data);
      }),
      { numRuns: 150 },
    );
  });

  it('actually compresses', async () => {
    for (const type of ALL.slice(1))
      expect((await compress(type, LINES)).length).toBeLessThan(LINES.length / 10);
  });

  it('accepts a Uint8Array view that is not a Buffer', async () => {
    const backing = new Uint8Array(LINES.length + 10);
    backing.set(LINES, 5);
    const view = backing.subarray(5, 5 + LINES.length);
    for (const type of ALL) expect(await decompress(type, await compress(type, view))).toEqual(LINES);
  });

  it('honours the compression level', async () => {
    const fast = await compress(CompressionType.Gzip, LINES, { level: 1 });
    const best = await compress(CompressionType.Gzip, LINES, { level: 9 });
    expect(fast.length).toBeGreaterThan(best.length);
    expect(fast[0]).toBe(0x1f);
  });

  it('makes zstd sync calls fail with a COMPRESSION error that says what to use', async () => {
    const e = await codecError(() => compressSync(CompressionType.Zstd, FOX));
    expect(e.code).toBe('COMPRESSION');
    expect(e.message).toMatch(/async/);
    expect((await codecError(() => decompressSync(CompressionType.Zstd, FOX))).code).toBe('COMPRESSION');
  });

  it('rejects unknown codec ids', async () => {
    expect((await codecError(() => compressSync(5, FOX))).message).toMatch(/unknown compression type 5/);
    expect((await codecError(decompress(7, FOX))).code).toBe('COMPRESSION');
  });
});

describe('fixtures written by other implementations', () => {
  it('gzip (gzip CLI)', async () => {
    expect(decompressSync(CompressionType.Gzip, fixture('fox.txt.gz'))).toEqual(FOX);
    expect(await decompress(CompressionType.Gzip, fixture('fox.txt.gz'))).toEqual(FOX);
  });

  it('lz4 frames (lz4 CLI): content checksum, block checksums, content size, linked blocks', async () => {
    expect(decompressSync(CompressionType.Lz4, fixture('fox.txt.lz4'))).toEqual(FOX);
    expect(decompressSync(CompressionType.Lz4, fixture('fox-blockchecksum-contentsize.txt.lz4'))).toEqual(
      FOX,
    );
    const linked = fixture('lines-linked-blocks.txt.lz4');
    expect(linked[4]! & 0x20).toBe(0); // block independence flag clear
    expect(decompressSync(CompressionType.Lz4, linked)).toEqual(LINES);
    expect(await decompress(CompressionType.Lz4, linked)).toEqual(LINES);
  });

  it('zstd (zstd CLI), with and without content size and checksum', async () => {
    expect(await decompress(CompressionType.Zstd, fixture('fox-checksum.txt.zst'))).toEqual(FOX);
    expect(await decompress(CompressionType.Zstd, fixture('fox-stream.txt.zst'))).toEqual(FOX);
  });

  // Vectors from eapache/go-xerial-snappy (the library Sarama uses), which match snappy-java's output.
  it('raw snappy blocks', () => {
    const cases: [string, number[]][] = [
      ['REPEATREPEATREPEATREPEATREPEATREPEAT', [36, 20, 82, 69, 80, 69, 65, 84, 118, 6, 0]],
      ['REALLY SHORT', [12, 44, 82, 69, 65, 76, 76, 89, 32, 83, 72, 79, 82, 84]],
      ['', [0]],
      ['A', [1, 0, 65]],
    ];
    for (const [text, bytes] of cases) {
      expect(isXerialSnappy(Buffer.from(bytes))).toBe(false);
      expect(decompressSync(CompressionType.Snappy, Buffer.from(bytes)).toString()).toBe(text);
    }
  });

  it('xerial-framed snappy', () => {
    const header = [130, 83, 78, 65, 80, 80, 89, 0, 0, 0, 0, 1, 0, 0, 0, 1];
    const cases: [string, number[]][] = [
      ['PLAINDATA', [...header, 0, 0, 0, 11, 9, 32, 80, 76, 65, 73, 78, 68, 65, 84, 65]],
      ['A', [...header, 0, 0, 0, 3, 1, 0, 65]],
      ['', header],
    ];
    for (const [text, bytes] of cases) {
      expect(isXerialSnappy(Buffer.from(bytes))).toBe(true);
      expect(decompressSync(CompressionType.Snappy, Buffer.from(bytes)).toString()).toBe(text);
    }
  });

  it('xerial blocks and concatenated xerial streams', () => {
    const a = compressSync(CompressionType.Snappy, Buffer.from('first stream '));
    const b = compressSync(CompressionType.Snappy, Buffer.from('second stream'));
    expect(decompressSync(CompressionType.Snappy, Buffer.concat([a, b])).toString()).toBe(
      'first stream second stream',
    );
  });
});

describe('snappy framing', () => {
  it('writes the xerial framing the Java client writes, in 32 KiB blocks', () => {
    const data = Buffer.alloc(70_000, 7);
    const out = compressSync(CompressionType.Snappy, data);
    expect(isXerialSnappy(out)).toBe(true);
    expect(out.subarray(0, 16)).toEqual(
      Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]),
    );
    // walk the blocks: 32768 + 32768 + 4464 bytes of input
    const sizes: number[] = [];
    for (let pos = 16; pos < out.length; ) {
      const n = out.readInt32BE(pos);
      sizes.push(decompressSync(CompressionType.Snappy, out.subarray(pos + 4, pos + 4 + n)).length);
      pos += 4 + n;
    }
    expect(sizes).toEqual([32768, 32768, 4464]);
  });

  it('also writes and reads raw snappy (what librdkafka writes)', () => {
    const raw = snappyCompressRawSync(LINES);
    expect(isXerialSnappy(raw)).toBe(false);
    expect(decompressSync(CompressionType.Snappy, raw)).toEqual(LINES);
  });
});

describe('decompression bounds', () => {
  const max = 10_000;
  const bomb = Buffer.alloc(1_000_000);

  it('applies a 256 MiB bound by default', async () => {
    // a raw snappy block announcing 300 MiB (uvarint preamble) and holding nothing
    const announced = 300 * 1024 * 1024;
    const preamble: number[] = [];
    for (let v = announced; ; v = Math.floor(v / 128)) {
      if (v < 128) {
        preamble.push(v);
        break;
      }
      preamble.push((v % 128) | 0x80);
    }
    const e = await codecError(() => decompressSync(CompressionType.Snappy, Buffer.from([...preamble, 0])));
    expect(e.message).toContain(`limit of ${DEFAULT_MAX_DECOMPRESSED_BYTES}`);
    expect(DEFAULT_MAX_DECOMPRESSED_BYTES).toBe(256 * 1024 * 1024);
  });

  for (const type of ALL) {
    it(`type ${type} refuses output over maxOutputBytes`, async () => {
      const packed = await compress(type, bomb);
      const e = await codecError(decompress(type, packed, { maxOutputBytes: max }));
      expect(e.code).toBe('COMPRESSION');
      expect(e.message).toMatch(/limit of 10000/);
      if (type !== CompressionType.Zstd) {
        expect((await codecError(() => decompressSync(type, packed, { maxOutputBytes: max }))).code).toBe(
          'COMPRESSION',
        );
      }
      // and the same data is fine under a bound with room for the framing's estimate (one block)
      expect((await decompress(type, packed, { maxOutputBytes: bomb.length + 256 * 1024 })).length).toBe(
        bomb.length,
      );
    });
  }

  it('bounds snappy and zstd from the framing, before decompressing', async () => {
    // a raw snappy block that announces 2^32-1 bytes but holds almost nothing
    const liar = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
    expect((await codecError(() => decompressSync(CompressionType.Snappy, liar))).message).toMatch(
      /could reach 4294967295/,
    );
    // zstd: a frame of RLE blocks, each 3 header bytes + 1 byte regenerating 128 KiB
    const rle = [];
    for (let i = 0; i < 3000; i++) {
      const last = i === 2999 ? 1 : 0;
      const header = ((128 * 1024) << 3) | (1 << 1) | last;
      rle.push(header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x41);
    }
    const frame = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, ...rle]);
    expect(zstdOutputBound(frame)).toBe(3000 * 128 * 1024);
    const e = await codecError(decompress(CompressionType.Zstd, frame));
    expect(e.message).toMatch(/could reach 393216000/);
  });

  it('computes zstd bounds across frames and skippable frames', async () => {
    const a = await compress(CompressionType.Zstd, FOX);
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    const both = Buffer.concat([a, skippable, a]);
    expect(zstdOutputBound(both)).toBe(2 * zstdOutputBound(a));
    expect(await decompress(CompressionType.Zstd, both)).toEqual(Buffer.concat([FOX, FOX]));
  });
});

describe('malformed compressed data', () => {
  it('throws COMPRESSION errors for garbage in every codec', async () => {
    for (const type of ALL.slice(1)) {
      const e = await codecError(decompress(type, Buffer.from('definitely not compressed data')));
      expect(e.code).toBe('COMPRESSION');
    }
  });

  it('throws COMPRESSION errors for truncated data in every codec', async () => {
    for (const type of ALL.slice(1)) {
      const packed = await compress(type, LINES);
      for (const cut of [1, 5, 10, packed.length >> 1, packed.length - 1]) {
        const e = await codecError(decompress(type, packed.subarray(0, cut)));
        expect(e.code).toBe('COMPRESSION');
      }
    }
  });

  it('throws only KafkaCodecError for random input and random mutations', async () => {
    const samples = await Promise.all(ALL.slice(1).map(async (t) => [t, await compress(t, LINES)] as const));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...samples),
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.boolean(),
        async ([type, packed], junk, edits, useJunk) => {
          let input: Buffer;
          if (useJunk) input = Buffer.from(junk);
          else {
            input = Buffer.from(packed);
            for (const [at, v] of edits) input[at % input.length] = v;
          }
          try {
            const out = await decompress(type, input, { maxOutputBytes: 1 << 20 });
            expect(out.length).toBeLessThanOrEqual(1 << 20);
          } catch (e) {
            expect(e).toBeInstanceOf(KafkaCodecError);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('validates LZ4 frame structure', async () => {
    const good = compressSync(CompressionType.Lz4, FOX);
    const badVersion = Buffer.from(good);
    badVersion[4] = (badVersion[4]! & 0x3f) | 0x80;
    expect((await codecError(() => decompressSync(CompressionType.Lz4, badVersion))).message).toMatch(
      /version/,
    );
    const oversized = Buffer.from(good);
    oversized.writeUInt32LE(0x7fff0000, 7);
    expect((await codecError(() => decompressSync(CompressionType.Lz4, oversized))).message).toMatch(
      /larger than/,
    );
  });

  it('ignores bytes after the first LZ4 frame, as Kafka does', () => {
    const frame = compressSync(CompressionType.Lz4, FOX);
    expect(decompressSync(CompressionType.Lz4, Buffer.concat([frame, Buffer.from('trailing')]))).toEqual(FOX);
  });
});

describe('lz4 header checksum of magic-0 messages', () => {
  it('writes the checksum over magic + descriptor and reads it back', () => {
    const broken = compressSync(CompressionType.Lz4, FOX, { legacyLz4HeaderChecksum: true });
    const correct = compressSync(CompressionType.Lz4, FOX);
    // no content size or dict id: descriptor is bytes 4..5, header checksum byte 6
    expect(correct[6]).toBe((xxhash32(correct, 4, 6) >>> 8) & 0xff);
    expect(broken[6]).toBe((xxhash32(broken, 0, 6) >>> 8) & 0xff);
    expect(broken[6]).not.toBe(correct[6]);
    expect(() => decompressSync(CompressionType.Lz4, broken)).toThrow(KafkaCodecError);
    expect(decompressSync(CompressionType.Lz4, broken, { legacyLz4HeaderChecksum: true })).toEqual(FOX);
    // a correct checksum is also accepted in legacy mode, as Kafka ignores the byte there
    expect(decompressSync(CompressionType.Lz4, correct, { legacyLz4HeaderChecksum: true })).toEqual(FOX);
  });

  it('computes XXH32 like the reference', () => {
    expect(xxhash32(Buffer.alloc(0))).toBe(0x02cc5d05);
    expect(xxhash32(Buffer.from('abc'))).toBe(0x32d153ff);
    expect(xxhash32(Buffer.from('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
  });
});

describe('native codec loading', () => {
  it('loads lazily and names the package to install when it is missing', () => {
    const e = (() => {
      try {
        loadNative('kch-no-such-codec-package', 'imaginary');
      } catch (err) {
        return err as KafkaCodecError;
      }
      throw new Error('expected a failure');
    })();
    expect(e).toBeInstanceOf(KafkaCodecError);
    expect(e.code).toBe('COMPRESSION');
    expect(e.message).toContain('npm install kch-no-such-codec-package');
  });

  it('does not load a native library before its codec is used', () => {
    // a fresh process, since this one has loaded every codec by now
    const script = `
      import { createRequire } from 'node:module';
      const m = await import(${JSON.stringify(fileURLToPath(new URL('../src/compression/index.ts', import.meta.url)))});
      const cache = createRequire(import.meta.url).cache;
      const loaded = () => Object.keys(cache).filter((k) => /[\\/](snappy|lz4-napi|zstd)[\\/]/.test(k)).length;
      const atImport = loaded();
      m.decompressSync(1, m.compressSync(1, Buffer.from('x')));
      const afterGzip = loaded();
      m.compressSync(2, Buffer.from('x'));
      console.log(JSON.stringify([atImport, afterGzip, loaded() > 0]));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual([0, 0, true]);
  });

  it('hands back the same module every time', () => {
    const require = createRequire(import.meta.url);
    expect(loadNative('snappy', 'snappy')).toBe(require('snappy'));
    expect(loadNative('snappy', 'snappy')).toBe(loadNative('snappy', 'snappy'));
  });
});
