import { createRequire } from 'node:module';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompressionType, decompressSync, xxhash32 } from '../src/compression/index.js';
import { KafkaCodecError } from '../src/errors.js';
import {
  convertLegacyToRecordBatch,
  convertLegacyToRecordBatchSync,
  crc32,
  decodeBatch,
  decodeBatchSync,
  decodeMessageSet,
  encodeMessageSet,
  encodeRecordBatchSync,
  type LegacyMessageInput,
  NO_TIMESTAMP,
  recordOffset,
  recordTimestamp,
  TimestampType,
} from '../src/records/index.js';

const require = createRequire(import.meta.url);
const b = (s: string) => Buffer.from(s);

function codecError(f: () => unknown): KafkaCodecError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KafkaCodecError);
    return e as KafkaCodecError;
  }
  throw new Error('expected a KafkaCodecError, but nothing was thrown');
}

const MESSAGES: LegacyMessageInput[] = [
  { key: b('k0'), value: b('v0'), timestamp: 1000n },
  { key: null, value: b('v1'), timestamp: 1005n },
  { key: b('k2'), value: null, timestamp: 1002n },
];

/** Builds one raw legacy message with a correct CRC, for shapes the encoder will not produce. */
function rawMessage(opts: {
  offset: bigint;
  magic: number;
  attributes?: number;
  timestamp?: bigint;
  key?: Buffer | null;
  value?: Buffer | null;
  extra?: Buffer;
}): Buffer {
  const parts: Buffer[] = [Buffer.from([opts.magic, opts.attributes ?? 0])];
  if (opts.magic === 1) {
    const t = Buffer.alloc(8);
    t.writeBigInt64BE(opts.timestamp ?? 0n);
    parts.push(t);
  }
  for (const f of [opts.key ?? null, opts.value ?? null]) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(f === null ? -1 : f.length);
    parts.push(len);
    if (f) parts.push(f);
  }
  if (opts.extra) parts.push(opts.extra);
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(16);
  head.writeBigInt64BE(opts.offset, 0);
  head.writeInt32BE(body.length + 4, 8);
  head.writeUInt32BE(crc32(body), 12);
  return Buffer.concat([head, body]);
}

describe('interoperability with kafkajs', () => {
  const MessageSet = require('kafkajs/src/protocol/messageSet');
  const Decoder = require('kafkajs/src/protocol/decoder');
  const decodeKafkajsSet = require('kafkajs/src/protocol/messageSet/decoder');

  it('encodes uncompressed magic 0 and 1 sets byte-for-byte like kafkajs', () => {
    for (const magic of [0, 1] as const) {
      const theirs: Buffer = MessageSet({
        messageVersion: magic,
        compression: 0,
        entries: MESSAGES.map((m) => ({ key: m.key, value: m.value, timestamp: Number(m.timestamp) })),
      }).buffer;
      const ours = encodeMessageSet({ magic, messages: MESSAGES.map((m) => ({ ...m, offset: -1n })) });
      expect(ours).toEqual(theirs);
    }
  });

  it('decodes the gzip wrapper kafkajs sends in Produce v2 (wrapper offset 0)', async () => {
    const inner = MessageSet({
      messageVersion: 1,
      compression: 1,
      entries: MESSAGES.map((m) => ({ key: m.key, value: m.value, timestamp: Number(m.timestamp) })),
    });
    const value = gzipSync(inner.buffer);
    const wrapper: Buffer = MessageSet({
      messageVersion: 1,
      entries: [{ compression: 1, timestamp: 1000, value }],
    }).buffer;
    expect(wrapper.readBigInt64BE(0)).toBe(0n);
    const set = decodeMessageSet(wrapper);
    expect(set.compression).toBe(CompressionType.Gzip);
    expect(set.partial).toBeNull();
    expect(set.messages.map((m) => [m.offset, m.timestamp, m.key, m.value, m.magic])).toEqual([
      [0n, 1000n, b('k0'), b('v0'), 1],
      [1n, 1005n, null, b('v1'), 1],
      [2n, 1002n, b('k2'), null, 1],
    ]);
  });

  it('produces gzip wrappers kafkajs decodes with absolute offsets', async () => {
    const ours = encodeMessageSet({
      magic: 1,
      compression: CompressionType.Gzip,
      baseOffset: 100n,
      messages: MESSAGES,
    });
    const theirs = await decodeKafkajsSet(new Decoder(ours), ours.length);
    expect(theirs.map((m: any) => [m.offset, m.timestamp, m.key, m.value])).toEqual([
      ['100', '1000', b('k0'), b('v0')],
      ['101', '1005', null, b('v1')],
      ['102', '1002', b('k2'), null],
    ]);
  });
});

describe('uncompressed message sets', () => {
  for (const magic of [0, 1] as const) {
    it(`round-trips magic ${magic}`, () => {
      const set = encodeMessageSet({ magic, baseOffset: 10n, messages: MESSAGES });
      const { messages, compression, partial } = decodeMessageSet(set);
      expect(compression).toBe(CompressionType.None);
      expect(partial).toBeNull();
      expect(messages).toEqual(
        MESSAGES.map((m, i) => ({
          offset: 10n + BigInt(i),
          magic,
          attributes: 0,
          timestampType: TimestampType.CreateTime,
          timestamp: magic === 0 ? NO_TIMESTAMP : m.timestamp,
          key: m.key,
          value: m.value,
        })),
      );
    });
  }

  it('lays out a magic 1 message as the protocol documents', () => {
    const set = encodeMessageSet({
      magic: 1,
      messages: [{ offset: 5n, timestamp: 7n, key: b('k'), value: b('val') }],
    });
    expect(set.readBigInt64BE(0)).toBe(5n);
    expect(set.readInt32BE(8)).toBe(4 + 1 + 1 + 8 + 4 + 1 + 4 + 3);
    expect(set.readUInt32BE(12)).toBe(crc32(set, 16));
    expect([set[16], set[17]]).toEqual([1, 0]);
    expect(set.readBigInt64BE(18)).toBe(7n);
    expect(set.length).toBe(12 + set.readInt32BE(8));
  });

  it('reports a trailing partial message', () => {
    const set = encodeMessageSet({ magic: 1, messages: MESSAGES });
    const { messages, partial } = decodeMessageSet(set.subarray(0, set.length - 3));
    expect(messages).toHaveLength(2);
    expect(partial?.length).toBeGreaterThan(0);
  });
});

describe('compressed wrappers', () => {
  it('magic 1: inner offsets are relative and the wrapper holds the last absolute offset', () => {
    const set = encodeMessageSet({
      magic: 1,
      compression: CompressionType.Gzip,
      baseOffset: 100n,
      messages: MESSAGES,
    });
    expect(set.readBigInt64BE(0)).toBe(102n);
    expect(set.readBigInt64BE(18)).toBe(1005n); // CreateTime wrapper timestamp: the max
    const inner = gunzipSync(set.subarray(12 + 4 + 1 + 1 + 8 + 4 + 4));
    const innerOffsets = [];
    for (let pos = 0; pos < inner.length; pos += 12 + inner.readInt32BE(pos + 8))
      innerOffsets.push(inner.readBigInt64BE(pos));
    expect(innerOffsets).toEqual([0n, 1n, 2n]);
    expect(decodeMessageSet(set).messages.map((m) => m.offset)).toEqual([100n, 101n, 102n]);
  });

  it('magic 0: inner offsets are absolute', () => {
    const set = encodeMessageSet({
      magic: 0,
      compression: CompressionType.Gzip,
      baseOffset: 100n,
      messages: MESSAGES,
    });
    expect(set.readBigInt64BE(0)).toBe(102n);
    const inner = gunzipSync(set.subarray(12 + 4 + 1 + 1 + 4 + 4));
    expect(inner.readBigInt64BE(0)).toBe(100n);
    const { messages, compression } = decodeMessageSet(set);
    expect(compression).toBe(CompressionType.Gzip);
    expect(messages.map((m) => [m.offset, m.timestamp, m.value])).toEqual([
      [100n, -1n, b('v0')],
      [101n, -1n, b('v1')],
      [102n, -1n, null],
    ]);
  });

  it('LogAppendTime on the wrapper overrides the inner timestamps', () => {
    const set = encodeMessageSet({
      magic: 1,
      compression: CompressionType.Gzip,
      timestampType: TimestampType.LogAppendTime,
      logAppendTime: 9999n,
      messages: MESSAGES,
    });
    const { messages } = decodeMessageSet(set);
    expect(messages.map((m) => [m.timestamp, m.timestampType])).toEqual(
      Array(3).fill([9999n, TimestampType.LogAppendTime]),
    );
  });

  for (const compression of [CompressionType.Snappy, CompressionType.Lz4] as const) {
    for (const magic of [0, 1] as const) {
      it(`codec ${compression}, magic ${magic}`, () => {
        const set = encodeMessageSet({ magic, compression, baseOffset: 7n, messages: MESSAGES });
        const { messages } = decodeMessageSet(set);
        expect(messages.map((m) => [m.offset, m.key, m.value])).toEqual(
          MESSAGES.map((m, i) => [7n + BigInt(i), m.key, m.value]),
        );
      });
    }
  }

  it('magic 0 lz4 uses the old frame header checksum, magic 1 the correct one', () => {
    const wrapperValue = (set: Buffer, magic: number) =>
      set.subarray(12 + 4 + 2 + (magic === 1 ? 8 : 0) + 4 + 4);
    const v0 = wrapperValue(
      encodeMessageSet({ magic: 0, compression: CompressionType.Lz4, messages: MESSAGES }),
      0,
    );
    const v1 = wrapperValue(
      encodeMessageSet({ magic: 1, compression: CompressionType.Lz4, messages: MESSAGES }),
      1,
    );
    expect(v0[6]).toBe((xxhash32(v0, 0, 6) >>> 8) & 0xff);
    expect(v1[6]).toBe((xxhash32(v1, 4, 6) >>> 8) & 0xff);
    expect(() => decompressSync(CompressionType.Lz4, v0)).toThrow(KafkaCodecError);
  });

  it('refuses zstd, which needs magic 2', () => {
    expect(
      codecError(() => encodeMessageSet({ magic: 1, compression: CompressionType.Zstd, messages: MESSAGES }))
        .code,
    ).toBe('UNSUPPORTED_FIELD');
    const wrapper = rawMessage({ offset: 0n, magic: 1, attributes: 4, value: b('x') });
    expect(codecError(() => decodeMessageSet(wrapper)).message).toMatch(/zstd/);
  });
});

describe('malformed message sets', () => {
  const gzipWrapper = (inner: Buffer[], opts: { offset?: bigint; magic?: number } = {}) =>
    rawMessage({
      offset: opts.offset ?? 0n,
      magic: opts.magic ?? 1,
      attributes: 1,
      value: gzipSync(Buffer.concat(inner)),
    });

  it('outer CRC mismatch, and skipping the check', () => {
    const set = encodeMessageSet({ magic: 1, messages: MESSAGES });
    set[set.indexOf('v1') + 1] = 0x32;
    expect(codecError(() => decodeMessageSet(set)).message).toMatch(/message at position \d+ fails its CRC/);
    expect(decodeMessageSet(set, { verifyCrc: false }).messages[1]!.value).toEqual(b('v2'));
  });

  it('inner CRC mismatch', () => {
    const inner = rawMessage({ offset: 0n, magic: 1, value: b('abc') });
    inner[inner.length - 1] = 0x7a;
    expect(codecError(() => decodeMessageSet(gzipWrapper([inner]))).message).toMatch(
      /inner message at position 0 fails its CRC/,
    );
  });

  it('compressed messages inside a compressed message', () => {
    const nested = gzipWrapper([rawMessage({ offset: 0n, magic: 1, value: b('x') })]);
    expect(codecError(() => decodeMessageSet(gzipWrapper([nested]))).message).toMatch(/compressed inside/);
  });

  it('inner magic different from the wrapper', () => {
    const inner = rawMessage({ offset: 0n, magic: 0, value: b('x') });
    expect(codecError(() => decodeMessageSet(gzipWrapper([inner]))).message).toMatch(/not its wrapper's 1/);
  });

  it('compressed wrapper with a null value or no inner messages', () => {
    expect(
      codecError(() => decodeMessageSet(rawMessage({ offset: 0n, magic: 1, attributes: 1, value: null })))
        .message,
    ).toMatch(/null value/);
    expect(codecError(() => decodeMessageSet(gzipWrapper([]))).message).toMatch(/no inner messages/);
  });

  it('magic 1 wrapper offset below its last inner offset', () => {
    const inner = [0n, 1n, 2n].map((o) => rawMessage({ offset: o, magic: 1, value: b('x') }));
    expect(codecError(() => decodeMessageSet(gzipWrapper(inner, { offset: 1n }))).message).toMatch(
      /less than its last inner offset/,
    );
    expect(decodeMessageSet(gzipWrapper(inner, { offset: 12n })).messages.map((m) => m.offset)).toEqual([
      10n,
      11n,
      12n,
    ]);
  });

  it('a truncated inner message', () => {
    const inner = rawMessage({ offset: 0n, magic: 1, value: b('abcdef') });
    expect(
      codecError(() => decodeMessageSet(gzipWrapper([inner.subarray(0, inner.length - 2)]))).message,
    ).toMatch(/truncated/);
  });

  it('field lengths that disagree with the message size', () => {
    expect(
      codecError(() => decodeMessageSet(rawMessage({ offset: 0n, magic: 1, value: b('x'), extra: b('zz') })))
        .message,
    ).toMatch(/2 bytes after its value/);
    const overrun = rawMessage({ offset: 0n, magic: 0, key: null, value: b('abc') });
    overrun.writeInt32BE(10, overrun.length - 7);
    overrun.writeUInt32BE(crc32(overrun, 16), 12);
    expect(codecError(() => decodeMessageSet(overrun)).message).toMatch(/runs past/);
    const negative = rawMessage({ offset: 0n, magic: 0, key: b('k'), value: null });
    negative.writeInt32BE(-5, 18);
    negative.writeUInt32BE(crc32(negative, 16), 12);
    expect(codecError(() => decodeMessageSet(negative)).message).toMatch(/negative length/);
  });

  it('a size too small for magic 1', () => {
    const m = rawMessage({ offset: 0n, magic: 0, key: null, value: null });
    m[16] = 1;
    expect(codecError(() => decodeMessageSet(m)).message).toMatch(/less than the 22 bytes/);
  });

  it('a RecordBatch where a legacy message should be', () => {
    const batch = encodeRecordBatchSync({ records: [{ value: b('x') }] });
    expect(codecError(() => decodeMessageSet(batch)).message).toMatch(/magic 2/);
  });

  it('random bytes and mutations only ever throw KafkaCodecError', () => {
    const valid = [
      encodeMessageSet({ magic: 0, messages: MESSAGES }),
      encodeMessageSet({ magic: 1, messages: MESSAGES }),
      encodeMessageSet({ magic: 1, compression: CompressionType.Gzip, messages: MESSAGES }),
      encodeMessageSet({ magic: 0, compression: CompressionType.Lz4, messages: MESSAGES }),
      encodeMessageSet({ magic: 1, compression: CompressionType.Snappy, messages: MESSAGES }),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.uint8Array({ maxLength: 120 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        fc.boolean(),
        (set, junk, edits, useJunk, fixCrc) => {
          let input = Buffer.from(useJunk ? junk : set);
          if (!useJunk) for (const [at, v] of edits) input[at % input.length] = v;
          if (fixCrc && input.length >= 17) {
            const end = Math.min(input.length, 12 + Math.max(0, input.readInt32BE(8)));
            if (end > 16) input.writeUInt32BE(crc32(input, 16, end), 12);
          }
          if (useJunk && fixCrc) input = Buffer.concat([valid[1]!, input]);
          try {
            decodeMessageSet(input);
          } catch (e) {
            if (!(e instanceof KafkaCodecError)) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('conversion to RecordBatch v2', () => {
  it('turns a gzip magic 1 set into one gzip batch with offsets 0..n-1', () => {
    const set = decodeMessageSet(
      encodeMessageSet({ magic: 1, compression: CompressionType.Gzip, baseOffset: 50n, messages: MESSAGES }),
    );
    const batch = convertLegacyToRecordBatchSync(set);
    const { header, records } = decodeBatchSync(batch);
    expect(header).toMatchObject({
      baseOffset: 0n,
      compression: CompressionType.Gzip,
      recordCount: 3,
      lastOffsetDelta: 2,
      baseTimestamp: 1000n,
      maxTimestamp: 1005n,
      producerId: -1n,
      timestampType: TimestampType.CreateTime,
    });
    expect(
      records.map((r) => [recordOffset(header, r), recordTimestamp(header, r), r.key, r.value, r.headers]),
    ).toEqual([
      [0n, 1000n, b('k0'), b('v0'), []],
      [1n, 1005n, null, b('v1'), []],
      [2n, 1002n, b('k2'), null, []],
    ]);
  });

  it('can keep the offsets and pick another codec', async () => {
    const set = decodeMessageSet(encodeMessageSet({ magic: 1, baseOffset: 50n, messages: MESSAGES }));
    const batch = await convertLegacyToRecordBatch(set, {
      preserveOffsets: true,
      compression: CompressionType.Zstd,
    });
    const { header, records } = await decodeBatch(batch);
    expect(header.compression).toBe(CompressionType.Zstd);
    expect(records.map((r) => recordOffset(header, r))).toEqual([50n, 51n, 52n]);
  });

  it('gives magic 0 messages no timestamp, and keeps LogAppendTime', () => {
    const v0 = decodeBatchSync(
      convertLegacyToRecordBatchSync(decodeMessageSet(encodeMessageSet({ magic: 0, messages: MESSAGES }))),
    );
    expect(v0.header.maxTimestamp).toBe(NO_TIMESTAMP);
    expect(v0.records.map((r) => recordTimestamp(v0.header, r))).toEqual([-1n, -1n, -1n]);
    const lat = decodeMessageSet(
      encodeMessageSet({
        magic: 1,
        compression: CompressionType.Gzip,
        timestampType: TimestampType.LogAppendTime,
        logAppendTime: 4242n,
        messages: MESSAGES,
      }),
    );
    const converted = decodeBatchSync(convertLegacyToRecordBatchSync(lat.messages));
    expect(converted.header.timestampType).toBe(TimestampType.LogAppendTime);
    expect(converted.header.compression).toBe(CompressionType.None);
    expect(converted.records.map((r) => recordTimestamp(converted.header, r))).toEqual([4242n, 4242n, 4242n]);
  });

  it('refuses an empty set', async () => {
    expect(() => convertLegacyToRecordBatchSync([])).toThrow(RangeError);
    await expect(convertLegacyToRecordBatch([])).rejects.toThrow(RangeError);
  });
});
