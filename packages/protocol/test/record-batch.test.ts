import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompressionType } from '../src/compression/index.js';
import { KafkaCodecError } from '../src/errors.js';
import {
  assignOffsets,
  BatchOffsets,
  ControlRecordType,
  computeBatchCrc,
  controlRecordType,
  decodeBatch,
  decodeBatchSync,
  decodeControlRecordKey,
  decodeEndTxnMarker,
  decodeRecords,
  decodeRecordsSync,
  encodeControlBatch,
  encodeRecordBatch,
  encodeRecordBatchSync,
  iterateBatches,
  type KafkaRecord,
  type RecordBatchInit,
  type RecordInput,
  readBatchHeader,
  recordOffset,
  recordTimestamp,
  setBaseOffset,
  setMaxTimestamp,
  setPartitionLeaderEpoch,
  splitBatches,
  TimestampType,
  validateBatch,
  verifyBatchCrc,
  writeBatchCrc,
} from '../src/records/index.js';

const require = createRequire(import.meta.url);

function codecError(f: () => unknown): KafkaCodecError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KafkaCodecError);
    return e as KafkaCodecError;
  }
  throw new Error('expected a KafkaCodecError, but nothing was thrown');
}

async function asyncCodecError(p: Promise<unknown>): Promise<KafkaCodecError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KafkaCodecError);
    return e as KafkaCodecError;
  }
  throw new Error('expected a KafkaCodecError, but nothing was thrown');
}

const b = (s: string) => Buffer.from(s);

function sample(compression: CompressionType = CompressionType.None): RecordBatchInit {
  return {
    baseOffset: 0n,
    compression,
    producerId: 42n,
    producerEpoch: 3,
    baseSequence: 17,
    partitionLeaderEpoch: 9,
    records: [
      {
        key: b('k0'),
        value: b('v0'),
        timestamp: 1_700_000_000_000n,
        headers: [{ key: 'trace', value: b('t1') }],
      },
      { key: null, value: b('v1'), timestamp: 1_700_000_000_007n },
      { key: b('k2'), value: null, timestamp: 1_700_000_000_003n, headers: [{ key: 'ü', value: null }] },
    ],
  };
}

// Sarama's (Go) RecordBatch encoding vectors, from IBM/sarama record_test.go.
const saramaHeader = (length: number, crc: number[], attributes: number, records: number) => [
  ...[0, 0, 0, 0, 0, 0, 0, 0],
  ...[0, 0, 0, length],
  ...[0, 0, 0, 0],
  2,
  ...crc,
  ...[0, attributes],
  ...[0, 0, 0, 0],
  ...(records ? [0, 0, 1, 88, 141, 205, 89, 56] : [0, 0, 0, 0, 0, 0, 0, 0]),
  ...[0, 0, 0, 0, 0, 0, 0, 0],
  ...[0, 0, 0, 0, 0, 0, 0, 0],
  ...[0, 0],
  ...[0, 0, 0, 0],
  ...[0, 0, 0, records],
];
const saramaRecord = [40, 0, 10, 0, 8, 1, 2, 3, 4, 6, 5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12];
const SARAMA = {
  empty: Buffer.from(saramaHeader(49, [89, 95, 183, 221], 0, 0)),
  control: Buffer.from(saramaHeader(49, [81, 46, 67, 217], 32, 0)),
  uncompressed: Buffer.from([...saramaHeader(70, [84, 121, 97, 253], 0, 1), ...saramaRecord]),
  gzip: Buffer.from([
    ...saramaHeader(95, [231, 74, 206, 165], 1, 1),
    ...[31, 139, 8, 0, 0, 9, 110, 136, 0, 255, 0, 21, 0, 234, 255, 40, 0, 10, 0, 8, 1, 2],
    ...[3, 4, 6, 5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12, 3, 0, 173, 201, 88, 103, 21, 0, 0, 0],
  ]),
  snappy: Buffer.from([
    ...saramaHeader(72, [21, 0, 159, 97], 2, 1),
    ...[21, 80, 40, 0, 10, 0, 8, 1, 2, 3, 4, 6, 5, 6, 7, 2, 6, 8, 9, 10, 4, 11, 12],
  ]),
  lz4: Buffer.from([
    ...saramaHeader(89, [169, 74, 119, 197], 3, 1),
    ...[4, 34, 77, 24, 100, 112, 185, 21, 0, 0, 128, 40, 0, 10, 0, 8, 1, 2, 3, 4, 6, 5, 6, 7, 2],
    ...[6, 8, 9, 10, 4, 11, 12, 0, 0, 0, 0, 12, 59, 239, 146],
  ]),
};
const SARAMA_RECORD: KafkaRecord = {
  attributes: 0,
  timestampDelta: 5,
  offsetDelta: 0,
  key: Buffer.from([1, 2, 3, 4]),
  value: Buffer.from([5, 6, 7]),
  headers: [{ key: '\b\t\n', value: Buffer.from([11, 12]) }],
};
const saramaInit = (records: RecordInput[], extra: Partial<RecordBatchInit> = {}): RecordBatchInit => ({
  baseOffset: 0n,
  partitionLeaderEpoch: 0,
  producerId: 0n,
  producerEpoch: 0,
  baseSequence: 0,
  baseTimestamp: records.length ? 1_479_847_795_000n : 0n,
  maxTimestamp: 0n,
  lastOffsetDelta: 0,
  records,
  ...extra,
});

describe('interoperability', () => {
  it('decodes Sarama batches of every sync codec', () => {
    for (const [name, codec] of [
      ['uncompressed', 0],
      ['gzip', 1],
      ['snappy', 2],
      ['lz4', 3],
    ] as const) {
      const { header, records } = decodeBatchSync(SARAMA[name]);
      expect(header.compression).toBe(codec);
      expect(header.baseTimestamp).toBe(1_479_847_795_000n);
      expect(records).toEqual([SARAMA_RECORD]);
      expect(recordTimestamp(header, records[0]!)).toBe(1_479_847_795_005n);
    }
  });

  it('encodes byte-for-byte what Sarama encodes (uncompressed, empty, control)', () => {
    const record: RecordInput = {
      key: Buffer.from([1, 2, 3, 4]),
      value: Buffer.from([5, 6, 7]),
      timestampDelta: 5,
      headers: [{ key: '\b\t\n', value: Buffer.from([11, 12]) }],
    };
    expect(encodeRecordBatchSync(saramaInit([record]))).toEqual(SARAMA.uncompressed);
    expect(encodeRecordBatchSync(saramaInit([]))).toEqual(SARAMA.empty);
    expect(encodeRecordBatchSync(saramaInit([], { isControl: true }))).toEqual(SARAMA.control);
  });

  it('decodes batches kafkajs encodes, uncompressed and gzip', async () => {
    const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0');
    const Record = require('kafkajs/src/protocol/recordBatch/record/v0');
    const Long = require('kafkajs/src/utils/long');
    for (const compression of [0, 1]) {
      const encoded = await RecordBatch({
        compression,
        firstOffset: Long.fromInt(7),
        firstTimestamp: 1000,
        maxTimestamp: 1010,
        lastOffsetDelta: 1,
        producerId: Long.fromInt(99),
        producerEpoch: 2,
        firstSequence: 5,
        records: [
          Record({ offsetDelta: 0, timestampDelta: 0, key: b('a'), value: b('x'), headers: { h: b('1') } }),
          Record({ offsetDelta: 1, timestampDelta: 10, key: null, value: b('y') }),
        ],
      });
      const batch: Buffer = encoded.buffer;
      expect(verifyBatchCrc(batch)).toBe(true);
      const { header, records } = decodeBatchSync(batch);
      expect(header).toMatchObject({
        baseOffset: 7n,
        producerId: 99n,
        producerEpoch: 2,
        baseSequence: 5,
        compression,
      });
      expect(
        records.map((r) => [recordOffset(header, r), recordTimestamp(header, r), r.key, r.value]),
      ).toEqual([
        [7n, 1000n, b('a'), b('x')],
        [8n, 1010n, null, b('y')],
      ]);
      expect(records[0]!.headers).toEqual([{ key: 'h', value: b('1') }]);
    }
  });

  it('encodes batches kafkajs decodes', async () => {
    const Decoder = require('kafkajs/src/protocol/decoder');
    const decode = require('kafkajs/src/protocol/recordBatch/v0/decoder');
    for (const compression of [CompressionType.None, CompressionType.Gzip]) {
      const batch = encodeRecordBatchSync({ ...sample(compression), baseOffset: 100n });
      const decoded = await decode(new Decoder(batch));
      expect(decoded.records.map((r: any) => [r.offset, r.timestamp, r.key, r.value, r.headers])).toEqual([
        ['100', '1700000000000', b('k0'), b('v0'), { trace: b('t1') }],
        ['101', '1700000000007', null, b('v1'), {}],
        ['102', '1700000000003', b('k2'), null, { ü: null }],
      ]);
      expect(decoded.producerId).toBe('42');
    }
  });
});

describe('encode and decode', () => {
  it('fills in the header as given and derived', () => {
    const batch = encodeRecordBatchSync(sample());
    const h = validateBatch(batch);
    expect(h).toMatchObject({
      baseOffset: 0n,
      batchLength: batch.length - 12,
      partitionLeaderEpoch: 9,
      magic: 2,
      attributes: 0,
      lastOffsetDelta: 2,
      baseTimestamp: 1_700_000_000_000n,
      maxTimestamp: 1_700_000_000_007n,
      producerId: 42n,
      producerEpoch: 3,
      baseSequence: 17,
      recordCount: 3,
      compression: CompressionType.None,
      timestampType: TimestampType.CreateTime,
      isTransactional: false,
      isControl: false,
      hasDeleteHorizonMs: false,
    });
    expect(h.crc).toBe(computeBatchCrc(batch));
  });

  it('sets the attribute bits', () => {
    const batch = encodeRecordBatchSync({
      ...sample(CompressionType.Lz4),
      timestampType: TimestampType.LogAppendTime,
      isTransactional: true,
      hasDeleteHorizonMs: true,
    });
    const h = readBatchHeader(batch);
    expect(h.attributes).toBe(0b1011011);
    expect(h).toMatchObject({
      compression: 3,
      timestampType: 1,
      isTransactional: true,
      isControl: false,
      hasDeleteHorizonMs: true,
    });
  });

  it('decodes keys and values as views into the batch, not copies', () => {
    const batch = encodeRecordBatchSync(sample());
    const [first] = decodeRecordsSync(batch);
    expect(first!.value!.buffer).toBe(batch.buffer);
    batch[batch.indexOf('v0')] = 0x56; // 'V'
    expect(first!.value!.toString()).toBe('V0');
  });

  it('shares one frozen empty header list', () => {
    const [, second] = decodeRecordsSync(encodeRecordBatchSync(sample()));
    expect(second!.headers).toEqual([]);
    expect(Object.isFrozen(second!.headers)).toBe(true);
  });

  const recordArb: fc.Arbitrary<RecordInput> = fc.record({
    key: fc.option(fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u))),
    value: fc.option(fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u))),
    headers: fc.array(
      fc.record({
        key: fc.string({ unit: 'grapheme', maxLength: 10 }),
        value: fc.option(fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u))),
      }),
      { maxLength: 3 },
    ),
    timestampDelta: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
    offsetDelta: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    attributes: fc.integer({ min: -128, max: 127 }),
  });

  it('round-trips arbitrary records with every codec', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { maxLength: 12 }),
        fc.constantFrom(0, 1, 2, 3, 4),
        fc.bigInt({ min: 0n, max: 2n ** 62n }),
        fc.bigInt({ min: -1n, max: 2n ** 50n }),
        async (records, compression, baseOffset, baseTimestamp) => {
          const batch = await encodeRecordBatch({
            baseOffset,
            baseTimestamp,
            compression: compression as CompressionType,
            records,
          });
          const { header, records: out } = await decodeBatch(batch);
          expect(header.baseOffset).toBe(baseOffset);
          expect(header.recordCount).toBe(records.length);
          expect(out).toEqual(
            records.map((r) => ({
              attributes: r.attributes,
              timestampDelta: r.timestampDelta,
              offsetDelta: r.offsetDelta,
              key: r.key,
              value: r.value,
              headers: r.headers!.map((h) => ({ key: h.key, value: h.value })),
            })),
          );
          if (compression !== 4) expect(decodeRecordsSync(batch)).toEqual(out);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('computes timestamps and offsets from absolute record fields', () => {
    const batch = encodeRecordBatchSync({ ...sample(), baseOffset: 500n });
    const { header, records } = decodeBatchSync(batch);
    expect(records.map((r) => recordOffset(header, r))).toEqual([500n, 501n, 502n]);
    expect(records.map((r) => recordTimestamp(header, r))).toEqual([
      1_700_000_000_000n,
      1_700_000_000_007n,
      1_700_000_000_003n,
    ]);
  });

  it('handles values large enough for the writer to reference instead of copy', () => {
    const big = Buffer.alloc(50_000, 3);
    const batch = encodeRecordBatchSync({ records: [{ value: big }, { value: big }] });
    expect(validateBatch(batch).recordCount).toBe(2);
    expect(decodeRecordsSync(batch).map((r) => r.value)).toEqual([big, big]);
  });

  it('decodes zstd batches only asynchronously', async () => {
    const batch = await encodeRecordBatch(sample(CompressionType.Zstd));
    expect((await decodeRecords(batch)).length).toBe(3);
    expect(codecError(() => decodeRecordsSync(batch)).code).toBe('COMPRESSION');
    expect(() => encodeRecordBatchSync(sample(CompressionType.Zstd))).toThrow(KafkaCodecError);
  });

  it('passes the decompression bound through', async () => {
    const batch = encodeRecordBatchSync({
      compression: CompressionType.Gzip,
      records: [{ value: Buffer.alloc(100_000) }],
    });
    expect(codecError(() => decodeRecordsSync(batch, { maxOutputBytes: 50_000 })).code).toBe('COMPRESSION');
    expect((await decodeRecords(batch, { maxOutputBytes: 200_000 }))[0]!.value!.length).toBe(100_000);
  });
});

describe('splitting a records field', () => {
  const one = encodeRecordBatchSync(sample());
  const two = encodeRecordBatchSync({ ...sample(CompressionType.Gzip), baseOffset: 3n });

  it('returns views of each batch and no partial', () => {
    const records = Buffer.concat([one, two]);
    const { batches, partial } = splitBatches(records);
    expect(partial).toBeNull();
    expect(batches).toEqual([one, two]);
    expect(batches[1]!.buffer).toBe(records.buffer);
    expect([...iterateBatches(records)].map((e) => [e.position, e.magic, e.partial])).toEqual([
      [0, 2, false],
      [one.length, 2, false],
    ]);
  });

  it('reports a trailing partial batch instead of throwing, at any cut', () => {
    const records = Buffer.concat([one, two]);
    for (let cut = one.length + 1; cut < records.length; cut++) {
      const { batches, partial } = splitBatches(records.subarray(0, cut));
      expect(batches).toEqual([one]);
      expect(partial).toEqual(two.subarray(0, cut - one.length));
    }
    const entries = [...iterateBatches(records.subarray(0, one.length + 14))];
    expect(entries[1]).toMatchObject({ partial: true, magic: -1 });
  });

  it('returns nothing for an empty field', () => {
    expect(splitBatches(Buffer.alloc(0))).toEqual({ batches: [], partial: null });
  });

  it('rejects impossible sizes and magics', () => {
    const tooSmall = Buffer.from(one);
    tooSmall.writeInt32BE(13, 8);
    expect(codecError(() => splitBatches(tooSmall)).code).toBe('CORRUPT_RECORD');
    const badMagic = Buffer.from(one);
    badMagic[16] = 3;
    expect(codecError(() => splitBatches(badMagic)).message).toMatch(/unknown magic 3/);
    const shortV2 = Buffer.from(one);
    shortV2.writeInt32BE(40, 8);
    expect(codecError(() => splitBatches(shortV2)).code).toBe('CORRUPT_RECORD');
  });
});

describe('in-place edits for the produce path', () => {
  it('sets baseOffset and leader epoch without touching the CRC', () => {
    const batch = encodeRecordBatchSync(sample());
    const crc = batch.readUInt32BE(BatchOffsets.crc);
    const last = assignOffsets(batch, { baseOffset: 1000n, partitionLeaderEpoch: 7 });
    expect(last).toBe(1002n);
    expect(batch.readUInt32BE(BatchOffsets.crc)).toBe(crc);
    const h = validateBatch(batch);
    expect([h.baseOffset, h.partitionLeaderEpoch]).toEqual([1000n, 7]);
    setBaseOffset(batch, 5n);
    setPartitionLeaderEpoch(batch, 1);
    expect(validateBatch(batch)).toMatchObject({ baseOffset: 5n, partitionLeaderEpoch: 1, crc });
  });

  it('applies LogAppendTime by setting maxTimestamp and the attribute, recomputing the CRC', async () => {
    for (const compression of [CompressionType.None, CompressionType.Snappy]) {
      const batch = encodeRecordBatchSync(sample(compression));
      const crc = batch.readUInt32BE(BatchOffsets.crc);
      assignOffsets(batch, { baseOffset: 10n, logAppendTime: 1_800_000_000_000n });
      const { header, records } = decodeBatchSync(batch);
      expect(header.crc).not.toBe(crc);
      expect(header.timestampType).toBe(TimestampType.LogAppendTime);
      expect(header.attributes & 7).toBe(compression);
      expect(header.maxTimestamp).toBe(1_800_000_000_000n);
      expect(header.baseTimestamp).toBe(1_700_000_000_000n);
      expect(records.map((r) => recordTimestamp(header, r))).toEqual(Array(3).fill(1_800_000_000_000n));
    }
  });

  it('leaves the CRC alone when the timestamp does not change', () => {
    const batch = encodeRecordBatchSync({
      ...sample(),
      timestampType: TimestampType.LogAppendTime,
      maxTimestamp: 5n,
    });
    const before = Buffer.from(batch);
    batch.writeUInt32BE(0, BatchOffsets.crc); // a wrong CRC stays wrong: nothing was recomputed
    setMaxTimestamp(batch, TimestampType.LogAppendTime, 5n);
    expect(batch.readUInt32BE(BatchOffsets.crc)).toBe(0);
    batch.writeUInt32BE(before.readUInt32BE(BatchOffsets.crc), BatchOffsets.crc);
    setMaxTimestamp(batch, TimestampType.CreateTime, 5n);
    expect(validateBatch(batch).timestampType).toBe(TimestampType.CreateTime);
  });

  it('refuses to edit something that is not a v2 batch', () => {
    const batch = encodeRecordBatchSync(sample());
    batch[16] = 1;
    expect(codecError(() => setBaseOffset(batch, 1n)).code).toBe('CORRUPT_RECORD');
    expect(codecError(() => assignOffsets(Buffer.alloc(30), { baseOffset: 1n })).code).toBe('TRUNCATED');
  });

  it('detects CRC damage and repairs it on request', () => {
    const batch = encodeRecordBatchSync(sample());
    expect(verifyBatchCrc(batch)).toBe(true);
    batch[batch.length - 1]! ^= 1;
    expect(verifyBatchCrc(batch)).toBe(false);
    expect(codecError(() => validateBatch(batch)).message).toMatch(/CRC/);
    writeBatchCrc(batch);
    expect(verifyBatchCrc(batch)).toBe(true);
  });
});

describe('control batches', () => {
  it('encodes and decodes a COMMIT marker', () => {
    const batch = encodeControlBatch({
      baseOffset: 77n,
      producerId: 5000n,
      producerEpoch: 4,
      type: ControlRecordType.Commit,
      coordinatorEpoch: 12,
      timestamp: 1_700_000_000_000n,
    });
    const { header, records } = decodeBatchSync(batch);
    expect(header).toMatchObject({
      baseOffset: 77n,
      isControl: true,
      isTransactional: true,
      producerId: 5000n,
      producerEpoch: 4,
      baseSequence: -1,
      recordCount: 1,
      compression: 0,
      maxTimestamp: 1_700_000_000_000n,
    });
    expect(records[0]!.key).toEqual(Buffer.from([0, 0, 0, 1]));
    expect(decodeControlRecordKey(records[0]!.key)).toEqual({ version: 0, type: ControlRecordType.Commit });
    expect(decodeEndTxnMarker(records[0]!.value)).toEqual({ version: 0, coordinatorEpoch: 12 });
    expect(controlRecordType(header, records[0]!)).toBe(1);
  });

  it('encodes an ABORT marker and tells ordinary batches apart', () => {
    const batch = encodeControlBatch({
      producerId: 1n,
      producerEpoch: 0,
      type: ControlRecordType.Abort,
      coordinatorEpoch: 0,
      timestamp: 0n,
    });
    const { header, records } = decodeBatchSync(batch);
    expect(controlRecordType(header, records[0]!)).toBe(ControlRecordType.Abort);
    const plain = decodeBatchSync(encodeRecordBatchSync(sample()));
    expect(controlRecordType(plain.header, plain.records[0]!)).toBeNull();
  });

  it('rejects malformed control keys and markers', () => {
    expect(codecError(() => decodeControlRecordKey(null)).code).toBe('CORRUPT_RECORD');
    expect(codecError(() => decodeControlRecordKey(Buffer.from([0, 0, 1]))).code).toBe('CORRUPT_RECORD');
    expect(codecError(() => decodeControlRecordKey(Buffer.from([0xff, 0xff, 0, 1]))).message).toMatch(
      /version/,
    );
    expect(codecError(() => decodeEndTxnMarker(Buffer.from([0, 0, 0, 0, 0]))).code).toBe('CORRUPT_RECORD');
    expect(codecError(() => decodeEndTxnMarker(Buffer.from([0x80, 0, 0, 0, 0, 0]))).message).toMatch(
      /version/,
    );
    // a newer key version is read by its first fields, as Kafka does
    expect(decodeControlRecordKey(Buffer.from([0, 1, 0, 0, 9, 9]))).toEqual({ version: 1, type: 0 });
  });
});

describe('malformed batches', () => {
  const good = () => encodeRecordBatchSync(sample());
  /** Applies an edit, then makes the CRC right again so the record parser sees the damage. */
  const withCrc = (edit: (batch: Buffer) => void) => {
    const batch = good();
    edit(batch);
    writeBatchCrc(batch);
    return batch;
  };
  const recordsAt = BatchOffsets.records;

  it('bad magic', () => {
    const batch = good();
    batch[16] = 1;
    expect(codecError(() => readBatchHeader(batch)).message).toMatch(/magic 1/);
    expect(codecError(() => decodeBatchSync(batch)).code).toBe('CORRUPT_RECORD');
  });

  it('truncated header and truncated batch', () => {
    expect(codecError(() => readBatchHeader(good().subarray(0, 60))).code).toBe('TRUNCATED');
    expect(codecError(() => decodeBatchSync(good().subarray(0, 70))).code).toBe('TRUNCATED');
    expect(codecError(() => verifyBatchCrc(good().subarray(0, 70))).code).toBe('TRUNCATED');
  });

  it('batch length below the header size', () => {
    expect(codecError(() => decodeBatchSync(withCrc((x) => x.writeInt32BE(48, 8)))).message).toMatch(
      /batchLength 48/,
    );
  });

  it('CRC mismatch', () => {
    const batch = good();
    batch[batch.length - 2]! ^= 0x40;
    const e = codecError(() => decodeBatchSync(batch));
    expect(e.code).toBe('CORRUPT_RECORD');
    expect(e.message).toMatch(/CRC/);
    // verification can be skipped for trusted data
    expect(decodeBatchSync(batch, { verifyCrc: false }).records).toHaveLength(3);
  });

  it('unknown compression and negative record count', () => {
    expect(codecError(() => readBatchHeader(withCrc((x) => x.writeInt16BE(5, 21)))).message).toMatch(
      /compression type 5/,
    );
    expect(codecError(() => readBatchHeader(withCrc((x) => x.writeInt32BE(-1, 57)))).message).toMatch(
      /negative record count/,
    );
  });

  it('more records announced than present', () => {
    const e = codecError(() => decodeBatchSync(withCrc((x) => x.writeInt32BE(4, 57))));
    expect(e.code).toBe('CORRUPT_RECORD');
    expect(e.message).toMatch(/record 3/);
  });

  it('a record count the bytes cannot hold fails before allocating', () => {
    const e = codecError(() => decodeBatchSync(withCrc((x) => x.writeInt32BE(2_000_000_000, 57))));
    expect(e.message).toMatch(/cannot hold/);
    expect(codecError(() => validateBatch(withCrc((x) => x.writeInt32BE(1000, 57)))).code).toBe(
      'CORRUPT_RECORD',
    );
  });

  it('fewer records announced than present', () => {
    expect(codecError(() => decodeBatchSync(withCrc((x) => x.writeInt32BE(2, 57)))).message).toMatch(
      /bytes left after/,
    );
  });

  it('record length running past the batch', () => {
    // first record's length varint: make it 63 (zig-zag 126), more than what remains
    const e = codecError(() => decodeBatchSync(withCrc((x) => (x[recordsAt] = 126))));
    expect(e.message).toMatch(/record 0/);
  });

  it('record length disagreeing with its fields', () => {
    const e = codecError(() => decodeBatchSync(withCrc((x) => (x[recordsAt] = x[recordsAt]! - 2))));
    expect(e.code).toBe('CORRUPT_RECORD');
  });

  it('key length running past its record', () => {
    // record 0: length, attributes, timestampDelta (0), offsetDelta (0), key length
    const e = codecError(() => decodeBatchSync(withCrc((x) => (x[recordsAt + 4] = 100))));
    expect(e.message).toMatch(/key of 50 bytes runs past/);
  });

  it('negative header count and negative header key length', () => {
    const batch = good();
    // record 0 is: len, attr, ts, off, keylen 4, 'k0', vallen 4, 'v0', hcount 2, ...
    const hcountAt = recordsAt + 1 + 1 + 1 + 1 + 1 + 2 + 1 + 2;
    expect(batch[hcountAt]).toBe(2);
    expect(codecError(() => decodeBatchSync(withCrc((x) => (x[hcountAt] = 3)))).message).toMatch(
      /negative header count/,
    );
    expect(codecError(() => decodeBatchSync(withCrc((x) => (x[hcountAt + 1] = 3)))).message).toMatch(
      /negative key length/,
    );
  });

  it('over-long varints', () => {
    const e = codecError(() =>
      decodeBatchSync(
        withCrc((x) => {
          for (let i = 0; i < 6; i++) x[recordsAt + i] = 0xff;
        }),
      ),
    );
    expect(e.code).toBe('CORRUPT_RECORD');
  });

  it('compressed payload that does not decompress', () => {
    const batch = encodeRecordBatchSync(sample(CompressionType.Gzip));
    batch[recordsAt + 12]! ^= 0xff;
    writeBatchCrc(batch);
    expect(codecError(() => decodeBatchSync(batch)).code).toBe('COMPRESSION');
  });
});

describe('fuzzing', () => {
  const validBatches = [
    encodeRecordBatchSync(sample()),
    encodeRecordBatchSync(sample(CompressionType.Gzip)),
    encodeRecordBatchSync(sample(CompressionType.Snappy)),
    encodeRecordBatchSync(sample(CompressionType.Lz4)),
    encodeControlBatch({ producerId: 1n, producerEpoch: 1, type: 1, coordinatorEpoch: 1, timestamp: 1n }),
  ];

  const onlyCodecErrors = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof KafkaCodecError)) throw e;
    }
  };

  it('random bytes only ever throw KafkaCodecError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buf = Buffer.from(bytes);
        onlyCodecErrors(() => readBatchHeader(buf));
        onlyCodecErrors(() => decodeBatchSync(buf));
        onlyCodecErrors(() => decodeBatchSync(buf, { verifyCrc: false }));
        onlyCodecErrors(() => splitBatches(buf));
        onlyCodecErrors(() => validateBatch(buf));
      }),
      { numRuns: 2000 },
    );
  });

  it('random bytes after a valid header only ever throw KafkaCodecError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.integer({ min: 0, max: 2 }),
        fc.nat(50),
        (bytes, codec, count) => {
          const batch = Buffer.concat([Buffer.alloc(61), Buffer.from(bytes)]);
          batch.writeInt32BE(batch.length - 12, 8);
          batch[16] = 2;
          batch.writeInt16BE(codec, 21);
          batch.writeInt32BE(count, 57);
          writeBatchCrc(batch);
          onlyCodecErrors(() => decodeBatchSync(batch));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('mutations of valid batches only ever throw KafkaCodecError, with or without a fixed-up CRC', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...validBatches),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: -20, max: 20 }),
        fc.boolean(),
        (valid, edits, resize, fixCrc) => {
          let batch = Buffer.from(valid);
          for (const [at, v] of edits) batch[at % batch.length] = v;
          if (resize < 0) batch = batch.subarray(0, Math.max(0, batch.length + resize));
          else if (resize > 0) batch = Buffer.concat([batch, Buffer.alloc(resize, resize)]);
          if (fixCrc) onlyCodecErrors(() => writeBatchCrc(batch));
          onlyCodecErrors(() => decodeBatchSync(batch));
          onlyCodecErrors(() => decodeBatchSync(batch, { verifyCrc: false }));
          onlyCodecErrors(() => splitBatches(batch));
          onlyCodecErrors(() => validateBatch(batch));
          onlyCodecErrors(() => assignOffsets(batch, { baseOffset: 1n, logAppendTime: 2n }));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('mutations of zstd batches only ever reject with KafkaCodecError', async () => {
    const valid = await encodeRecordBatch(sample(CompressionType.Zstd));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        async (edits) => {
          const batch = Buffer.from(valid);
          for (const [at, v] of edits) batch[at % batch.length] = v;
          onlyCodecErrors(() => writeBatchCrc(batch));
          try {
            await decodeBatch(batch);
          } catch (e) {
            expect(e).toBeInstanceOf(KafkaCodecError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a decoding failure reports where it happened', async () => {
    const e = await asyncCodecError(decodeBatch(Buffer.alloc(10)));
    expect(e.code).toBe('TRUNCATED');
  });
});
