/**
 * The contract of log compaction (storage.ts, `compact`; docs/compaction.md): the latest record of
 * each key stays at its offset, the records it supersedes and records without a key go and leave
 * holes, tombstones go only below `tombstonesBefore`, the cleaning stops at `endOffset` and at the
 * first record newer than `maxTimestamp`, the last record before that stays, a batch keeps its header
 * when some of its records go, and the last batch of an idempotent producer stays whole. Part of runStorageContract for storages with
 * `compact`.
 */
import { decodeBatch, type RecordInput } from '@kch/protocol';
import { expect, it } from 'vitest';
import type { CompactionRequest, Storage, TopicPartition } from '../storage.js';
import { producerBatch, testBatch, testMarker, testTopic } from './fixtures.js';

const EVERYTHING = Number.MAX_SAFE_INTEGER;

const rec = (key: string | null, value: string | null, timestamp?: number): RecordInput => ({
  key: key === null ? null : Buffer.from(key),
  value: value === null ? null : Buffer.from(value),
  timestamp: timestamp === undefined ? undefined : BigInt(timestamp),
});

/** Every record a read from the start returns, as `offset key=value` (`~` for null). */
async function records(s: Storage, tp: TopicPartition): Promise<string[]> {
  const out: string[] = [];
  let next = 0;
  for (;;) {
    const batches = await s.read(tp, next, 1 << 20);
    if (batches.length === 0) return out;
    for (const b of batches) {
      for (const r of (await decodeBatch(b.bytes, { verifyCrc: false })).records) {
        const text = (x: Buffer | null) => (x === null ? '~' : x.toString());
        out.push(`${b.baseOffset + r.offsetDelta} ${text(r.key)}=${text(r.value)}`);
      }
      next = b.lastOffset + 1;
    }
  }
}

const cleanAll = (endOffset: number, tombstonesBefore = 0): CompactionRequest => ({
  endOffset,
  maxTimestamp: EVERYTHING,
  tombstonesBefore,
});

export function runCompactionContract(
  storage: () => Storage,
  /** Closes the storage and returns a new one over the same data (durable storages only). */
  reopen?: (s: Storage) => Promise<Storage>,
  /** Sets the storage the suite's afterEach closes (after a reopen). */
  replace?: (s: Storage) => void,
): void {
  const compacted = async (s: Storage): Promise<TopicPartition> => {
    const t = testTopic(1, { 'cleanup.policy': 'compact' });
    await s.createTopic(t);
    return { topic: t.name, partition: 0 };
  };

  it('compaction keeps the latest record of each key at its offset; the rest leave holes; end and log start stay', async () => {
    const s = storage();
    const tp = await compacted(s);
    await s.append(tp, [
      testBatch({ baseOffset: 0, records: [rec('k1', 'a'), rec('k2', 'b')] }),
      testBatch({ baseOffset: 2, records: [rec('k1', 'c')] }),
      testBatch({ baseOffset: 3, records: [rec('k2', null)] }),
      testBatch({ baseOffset: 4, records: [rec(null, 'n'), rec('k3', 'x')] }),
    ]);
    expect(await s.compact!(tp, cleanAll(6))).toEqual({ cleanedTo: 6, removed: 3 });
    // The tombstone stays: tombstonesBefore is below it.
    expect(await records(s, tp)).toEqual(['2 k1=c', '3 k2=~', '5 k3=x']);
    expect((await s.openPartition(tp)).nextOffset).toBe(6);
    expect(await s.currentLogStartOffset(tp)).toBe(0);
    // Nothing more to do: the same cleaning again removes nothing.
    expect(await s.compact!(tp, cleanAll(6))).toEqual({ cleanedTo: 6, removed: 0 });
    // Once the cleaning that passed it is old enough, the tombstone goes too.
    expect(await s.compact!(tp, cleanAll(6, 6))).toEqual({ cleanedTo: 6, removed: 1 });
    expect(await records(s, tp)).toEqual(['2 k1=c', '5 k3=x']);
    expect(await s.currentLogStartOffset(tp)).toBe(0);
    // Appends go on at the end, and the next cleaning sees them.
    await s.append(tp, [testBatch({ baseOffset: 6, records: [rec('k3', 'y')] })]);
    expect(await s.compact!(tp, cleanAll(7))).toEqual({ cleanedTo: 7, removed: 1 });
    expect(await records(s, tp)).toEqual(['2 k1=c', '6 k3=y']);
  });

  it('compaction keeps the last record before where it stops, so the log never ends in holes', async () => {
    const s = storage();
    const tp = await compacted(s);
    await s.append(tp, [testBatch({ baseOffset: 0, records: [rec('k', 'a'), rec('k', null)] })]);
    // The tombstone is past its horizon, but it is the last record: it stays until one follows it.
    expect(await s.compact!(tp, cleanAll(2, 2))).toEqual({ cleanedTo: 2, removed: 1 });
    expect(await records(s, tp)).toEqual(['1 k=~']);
    await s.append(tp, [testBatch({ baseOffset: 2, records: [rec('j', 'x')] })]);
    expect(await s.compact!(tp, cleanAll(3, 3))).toEqual({ cleanedTo: 3, removed: 1 });
    expect(await records(s, tp)).toEqual(['2 j=x']);
  });

  it('compaction stops at endOffset and at the first record newer than maxTimestamp', async () => {
    const s = storage();
    const tp = await compacted(s);
    await s.append(tp, [
      testBatch({
        baseOffset: 0,
        records: [rec('k', 'a', 1000), rec('k', 'b', 2000), rec('k', 'c', 3000), rec('k', 'd', 1500)],
      }),
    ]);
    // Offset 2 is too young: the cleaning stops before it, and offset 1 is the latest of k there.
    expect(await s.compact!(tp, { endOffset: 4, maxTimestamp: 2500, tombstonesBefore: 0 })).toEqual({
      cleanedTo: 2,
      removed: 1,
    });
    expect(await records(s, tp)).toEqual(['1 k=b', '2 k=c', '3 k=d']);
    // Offset 3 is past the end given: it supersedes nothing yet.
    expect(await s.compact!(tp, cleanAll(3))).toEqual({ cleanedTo: 3, removed: 1 });
    expect(await records(s, tp)).toEqual(['2 k=c', '3 k=d']);
  });

  it("compaction keeps a batch's header when some of its records go, and an idempotent producer's last batch whole", async () => {
    const s = storage();
    const tp = await compacted(s);
    const idempotent = { producerId: 7, producerEpoch: 1 };
    await s.append(tp, [
      testBatch({ baseOffset: 0, records: [rec('k1', 'a'), rec('k2', 'b')], ...idempotent, baseSequence: 0 }),
      testBatch({ baseOffset: 2, records: [rec('k1', 'c'), rec('k3', 'x')], ...idempotent, baseSequence: 2 }),
      testBatch({ baseOffset: 4, records: [rec('k3', 'y')], ...idempotent, baseSequence: 4 }),
      testBatch({ baseOffset: 5, records: [rec('k3', 'w')] }),
    ]);
    expect(await s.compact!(tp, cleanAll(6))).toEqual({ cleanedTo: 6, removed: 2 });
    // Offset 4 is superseded, but it is producer 7's last batch, whose sequence a restart recovers.
    expect(await records(s, tp)).toEqual(['1 k2=b', '2 k1=c', '4 k3=y', '5 k3=w']);
    const batches = await s.read(tp, 0, 1 << 20);
    expect(
      batches.map((b) => [
        b.baseOffset,
        b.lastOffset,
        b.recordCount,
        b.producerId,
        b.producerEpoch,
        b.baseSequence,
      ]),
    ).toEqual([
      [0, 1, 1, 7, 1, 0],
      [2, 3, 1, 7, 1, 2],
      [4, 4, 1, 7, 1, 4],
      [5, 5, 1, -1, -1, -1],
    ]);
    // The batch headers say the same as the fields.
    for (const b of batches) {
      const { header } = await decodeBatch(b.bytes);
      expect([Number(header.baseOffset), header.lastOffsetDelta, header.baseSequence]).toEqual([
        b.baseOffset,
        b.lastOffset - b.baseOffset,
        b.baseSequence,
      ]);
    }
    const snapshot = await s.openPartition(tp);
    expect(snapshot.producerBatches.at(-1)).toMatchObject({
      producerId: 7,
      baseSequence: 4,
      lastSequence: 4,
    });
  });

  it('compaction removes a transaction marker below tombstonesBefore once no record of its transaction is left', async () => {
    let s = storage();
    const tp = await compacted(s);
    // Producer 7: k1=a COMMIT, k2=x ABORT, k1=b COMMIT; then k3=z of a plain producer.
    const written = [
      producerBatch(0, [rec('k1', 'a')], 7),
      testMarker(1, 7, 0, 'commit'),
      producerBatch(2, [rec('k2', 'x')], 7, 1),
      testMarker(3, 7, 0, 'abort'),
      producerBatch(4, [rec('k1', 'b')], 7, 2),
      testMarker(5, 7, 0, 'commit'),
      testBatch({ baseOffset: 6, records: [rec('k3', 'z')] }),
    ];
    for (const b of written) await s.append(tp, [b]);
    const batches = async () =>
      (await s.read(tp, 0, 1 << 20)).map((b) => `${b.baseOffset}${b.isControl ? ' marker' : ''}`);
    // Below the horizon none: k1=a goes, every marker stays.
    expect(await s.compact!(tp, cleanAll(7))).toEqual({ cleanedTo: 7, removed: 1 });
    expect(await batches()).toEqual(['1 marker', '3 marker', '4', '5 marker', '6']);
    // Below it all: the first COMMIT (its k1=a is gone) and the ABORT (its k2=x never stored) go; the
    // last COMMIT stays with its k1=b.
    expect(await s.compact!(tp, cleanAll(7, 7))).toEqual({ cleanedTo: 7, removed: 2 });
    expect(await batches()).toEqual(['4', '5 marker', '6']);
    // Nothing left of those transactions reads as open, also when a durable storage recovers them.
    if (reopen && replace) {
      s = await reopen(s);
      replace(s);
    }
    const snapshot = await s.openPartition(tp);
    expect([snapshot.logStartOffset, snapshot.nextOffset]).toEqual([0, 7]);
    expect(snapshot.openTransactions ?? []).toEqual([]);
    expect(await batches()).toEqual(['4', '5 marker', '6']);
  });

  it("stores the log cleaner's state of each partition: the latest put wins (across a reopen, when durable)", async () => {
    let s = storage();
    if (!s.cleanerStates) return;
    const tp = await compacted(s);
    const other = { ...tp, partition: 1 };
    expect(await s.cleanerStates.get(tp)).toBeNull();
    const first = {
      topicId: 'id-1',
      cleanedTo: 4,
      tombstonesBefore: 0,
      passes: [{ cleanedTo: 4, at: 1000 }],
    };
    await s.cleanerStates.put(tp, first);
    const latest = {
      topicId: 'id-1',
      cleanedTo: 9,
      tombstonesBefore: 4,
      passes: [
        { cleanedTo: 4, at: 1000 },
        { cleanedTo: 9, at: 1_765_000_000_000 },
      ],
    };
    await s.cleanerStates.put(tp, latest);
    await s.cleanerStates.put(other, { ...first, passes: [] });
    if (reopen && replace) {
      s = await reopen(s);
      replace(s);
    }
    expect(await s.cleanerStates!.get(tp)).toEqual(latest);
    expect(await s.cleanerStates!.get(other)).toEqual({ ...first, passes: [] });
  });

  if (reopen && replace) {
    it("keeps compaction's holes, the end and the log start across a reopen", async () => {
      let s = storage();
      const tp = await compacted(s);
      await s.append(tp, [
        testBatch({ baseOffset: 0, records: [rec('k1', 'a')] }),
        testBatch({ baseOffset: 1, records: [rec('k1', 'b'), rec('k2', null)] }),
        testBatch({ baseOffset: 3, records: [rec('k3', 'z')] }),
      ]);
      expect(await s.compact!(tp, cleanAll(4, 4))).toEqual({ cleanedTo: 4, removed: 2 });
      s = await reopen(s);
      replace(s);
      const snapshot = await s.openPartition(tp);
      expect([snapshot.logStartOffset, snapshot.nextOffset]).toEqual([0, 4]);
      expect(await s.currentLogStartOffset(tp)).toBe(0);
      expect(await records(s, tp)).toEqual(['1 k1=b', '3 k3=z']);
    });
  }
}
