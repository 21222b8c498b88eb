/** Helpers shared by the ClickHouse storage tests (chdb and server). */

import { createClient } from '@clickhouse/client';
import {
  CompressionType,
  decodeBatch,
  encodeRecordBatch,
  type RecordBatchInit,
  readBatchHeader,
  TimestampType,
} from '@kch/protocol';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type Storage, StorageError, type StoredBatch, storedBatchOf } from '../src/index.js';
import { testTopic } from '../src/testing/index.js';

/** A batch as the broker hands it to storage, encoded by the real codec. */
export async function batch(init: RecordBatchInit & { baseOffset: bigint }): Promise<StoredBatch> {
  return storedBatchOf(await encodeRecordBatch(init));
}

/** Read back is the same batch: identical bytes when uncompressed, identical header and records otherwise. */
export async function expectSameBatch(actual: StoredBatch, expected: StoredBatch): Promise<void> {
  const a = readBatchHeader(actual.bytes);
  const e = readBatchHeader(expected.bytes);
  if (e.compression === CompressionType.None) {
    expect(actual.bytes.equals(expected.bytes)).toBe(true);
  }
  const da = await decodeBatch(actual.bytes); // verifies the CRC
  const de = await decodeBatch(expected.bytes);
  expect({ ...a, crc: 0, batchLength: 0 }).toEqual({ ...e, crc: 0, batchLength: 0 });
  expect(da.records).toEqual(de.records);
  const { bytes: _a, ...am } = actual;
  const { bytes: _e, ...em } = expected;
  expect(am).toEqual(em);
}

const SPECIAL = [
  '',
  '\\',
  '\\N',
  'N',
  '\t',
  '\n',
  // A blank line ends inline data that chdb reads as text (binary rows must not go that way).
  '\n\n',
  'a\n\nb',
  '\r',
  '\0',
  "'",
  '[',
  ']',
  '(',
  ')',
  ',',
  'NULL',
  '\\x41',
].map((s) => Buffer.from(s, 'latin1'));

const bytesArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u)) },
  // runs of bytes that look like UTF-8 but are not (truncated and overlong sequences, surrogates)
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.constantFrom(
          0xc0,
          0xc2,
          0xe0,
          0xed,
          0xf0,
          0xf4,
          0xf5,
          0xff,
          0x80,
          0xbf,
          0xa0,
          0x9f,
          0x90,
          0x41,
          0x00,
          0x5c,
        ),
        {
          maxLength: 24,
        },
      )
      .map((a) => Buffer.from(a)),
  },
);

export const recordArb = fc.record({
  key: bytesArb,
  value: bytesArb,
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 12, unit: 'binary' }), value: bytesArb }), {
    maxLength: 4,
  }),
  timestampDelta: fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
  attributes: fc.integer({ min: 0, max: 127 }),
});

export const codecs = [
  ['none', CompressionType.None],
  ['gzip', CompressionType.Gzip],
  ['snappy', CompressionType.Snappy],
  ['lz4', CompressionType.Lz4],
  ['zstd', CompressionType.Zstd],
] as const;

/**
 * Random records (binary keys and values, invalid UTF-8, NUL, escapes, null and empty values,
 * duplicate and null headers) appended batch by batch with every codec and read back exactly, also
 * from a new storage over the same data. `create` returns an opened storage.
 */
export function byteExactness(create: () => Promise<Storage>): void {
  for (const [name, compression] of codecs) {
    it(`returns random binary keys, values and headers exactly (${name})`, async () => {
      const s = await create();
      const t = testTopic(2);
      await s.createTopic(t);
      const tp = { topic: t.name, partition: 1 };
      let next = 0;
      const written: StoredBatch[] = [];
      await fc.assert(
        fc.asyncProperty(
          fc.array(recordArb, { minLength: 1, maxLength: 12 }),
          fc.record({
            logAppend: fc.boolean(),
            transactional: fc.boolean(),
            idempotent: fc.boolean(),
            epoch: fc.integer({ min: 0, max: 32767 }),
            leaderEpoch: fc.integer({ min: -1, max: 1000 }),
            baseTimestamp: fc.integer({ min: -1, max: 4_000_000_000_000 }),
          }),
          async (records, o) => {
            const b = await batch({
              baseOffset: BigInt(next),
              compression,
              timestampType: o.logAppend ? TimestampType.LogAppendTime : TimestampType.CreateTime,
              isTransactional: o.transactional,
              partitionLeaderEpoch: o.leaderEpoch,
              baseTimestamp: BigInt(o.baseTimestamp),
              maxTimestamp: o.logAppend ? 1_700_000_000_123n : undefined,
              producerId: o.idempotent ? 1234567890123n : -1n,
              producerEpoch: o.idempotent ? o.epoch : -1,
              baseSequence: o.idempotent ? next : -1,
              records,
            });
            await s.append(tp, [b]);
            next = b.lastOffset + 1;
            written.push(b);
            const [back] = await s.read(tp, b.baseOffset, 1);
            await expectSameBatch(back!, b);
          },
        ),
        { numRuns: 25 },
      );
      // All of it again, in one read, then from a fresh storage (nothing cached).
      const all = await s.read(tp, 0, 1 << 30);
      expect(all).toHaveLength(written.length);
      for (let i = 0; i < all.length; i++) await expectSameBatch(all[i]!, written[i]!);
      await s.close();
      const again = await create();
      const reread = await again.read(tp, 0, 1 << 30);
      for (let i = 0; i < reread.length; i++) await expectSameBatch(reread[i]!, written[i]!);
    });
  }
}

/** The StorageError a promise rejects with (fails the test when it resolves or rejects otherwise). */
export async function refusal(p: Promise<unknown>): Promise<StorageError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(StorageError);
  return e as StorageError;
}

/**
 * Runs `suite` against the ClickHouse server at CLICKHOUSE_URL, in a database of its own (named from
 * `prefix`) dropped after the file's tests. Without CLICKHOUSE_URL it reports `what` as skipped under
 * `label`, saying how to run it.
 */
export function onServer(
  label: string,
  what: string,
  prefix: string,
  suite: (url: string, database: string) => void,
): void {
  const url = process.env.CLICKHOUSE_URL;
  if (!url) {
    describe(label, () => {
      // ctx.skip's reason is printed by vitest's default reporter; it.skip's is not.
      it(what, (ctx) =>
        ctx.skip(
          'CLICKHOUSE_URL is not set; point it at a ClickHouse server, e.g. http://default:@localhost:8123',
        ),
      );
    });
    return;
  }
  const database = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  afterAll(async () => {
    const client = createClient({ url });
    await client.command({ query: `DROP DATABASE IF EXISTS \`${database}\` SYNC` });
    await client.close();
  });
  suite(url, database);
}
