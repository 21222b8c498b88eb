/**
 * The contract of openPartition with a leadership (many brokers over one database, storage.ts): the
 * end read becomes the new epoch's start, and a row of leader epoch r is visible only below the start
 * of the first epoch after r, in every read. Part of runStorageContract; a storage of one instance
 * can only show a deposed leader's late rows through rows it stored before it learned of the later
 * epoch, so that is how these tests make them (the ClickHouse tests also write them from a second
 * storage over the same data, as a deposed broker would).
 */
import type { RecordInput } from '@kch/protocol';
import { expect, it } from 'vitest';
import { type PartitionLeadership, type Storage, StorageError, type StoredBatch } from '../storage.js';
import { testBatch, testTopic } from './fixtures.js';

const rec = (value: string, timestamp: number): RecordInput => ({
  key: null,
  value: Buffer.from(value),
  timestamp: BigInt(timestamp),
});

/**
 * A batch of `n` records stamped with partition leader epoch `epoch`, by producer `pid` (-1: not
 * idempotent), timestamps from `ts` on, values JSON objects.
 */
export function stamped(baseOffset: number, epoch: number, pid: number, n: number, ts = 1_000): StoredBatch {
  const records = Array.from({ length: n }, (_, i) =>
    rec(JSON.stringify({ e: epoch, o: baseOffset + i }), ts + i),
  );
  return testBatch({
    baseOffset,
    records,
    leaderEpoch: epoch,
    producerId: pid,
    producerEpoch: 0,
    baseSequence: pid >= 0 ? baseOffset : -1,
  });
}

/** A leadership in `epoch`, the earlier epochs 0, 1, ... having begun at `starts`. */
export function leadership(epoch: number, starts: readonly number[]): PartitionLeadership {
  return { epoch, epochStarts: starts.map((startOffset, e) => ({ epoch: e, startOffset })) };
}

async function refused(p: Promise<unknown>): Promise<StorageError> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(StorageError);
  // A replaced leader is told so (the broker answers NOT_LEADER_OR_FOLLOWER), not that it erred.
  expect((e as StorageError).kind).toBe('FENCED');
  return e as StorageError;
}

export function runFencingContract(storage: () => Storage): void {
  it('starts a leader epoch at the end it reads, and refuses appends of a replaced epoch past it', async () => {
    const s = storage();
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    const old = [stamped(0, 0, 5, 2), stamped(2, 0, 5, 1)];
    await s.append(tp, old);
    const opened = await s.openPartition(tp, leadership(1, [0]));
    expect(opened).toMatchObject({ logStartOffset: 0, nextOffset: 3 });

    // The deposed leader of epoch 0 writes on at 3: never visible, and the end stays at 3.
    const late = stamped(3, 0, 7, 2, 9_000);
    await refused(s.append(tp, [late]));
    expect(await s.read(tp, 3, 1 << 20)).toEqual([]);
    expect((await s.openPartition(tp)).nextOffset).toBe(3);
    expect(await s.offsetForTimestamp(tp, 9_000)).toBeNull();
    expect((await s.openPartition(tp)).producerBatches.map((b) => b.producerId)).toEqual([5, 5]);

    // The leader of epoch 1 appends at 3; the epoch-0 batches below 3 stay.
    const mine = stamped(3, 1, 6, 2, 2_000);
    await s.append(tp, [mine]);
    const read = await s.read(tp, 0, 1 << 20);
    expect(read.map((b) => b.baseOffset)).toEqual([0, 2, 3]);
    expect(read.map((b, i) => b.bytes.equals([...old, mine][i]!.bytes))).toEqual([true, true, true]);

    // Epoch 2 begins at 5: the leader of epoch 1 is replaced in turn.
    const second = await s.openPartition(tp, leadership(2, [0, 3]));
    expect(second.nextOffset).toBe(5);
    await refused(s.append(tp, [stamped(5, 1, 6, 1)]));
    // An older leadership than the one the partition was opened with is a deposed leader's.
    await refused(s.openPartition(tp, leadership(1, [])));
    await s.append(tp, [stamped(5, 2, 6, 1)]);
    const after = await s.openPartition(tp);
    expect(after.nextOffset).toBe(6);
    expect(after.producerBatches.map((b) => [b.producerId, b.baseOffset])).toEqual([
      [5, 0],
      [5, 2],
      [6, 3],
      [6, 5],
    ]);
  });

  it('hides the rows a replaced leader wrote past the next epoch start from every read', async () => {
    const s = storage();
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    // Stored before this storage learned that epoch 1 began at 2: the epoch-0 batch at 2..3 came late
    // (the epoch-1 batch at 4 stands for what the leader of epoch 1 wrote).
    const kept = stamped(0, 0, 5, 2, 1_000);
    const late = stamped(2, 0, 7, 2, 9_000);
    const epoch1 = stamped(4, 1, 6, 2, 3_000);
    await s.append(tp, [kept, late, epoch1]);
    expect(await s.maxTimestamp(tp)).toEqual({ offset: 3, timestamp: 9_001 });

    const opened = await s.openPartition(tp, leadership(2, [0, 2]));
    expect(opened.nextOffset).toBe(6);
    expect(opened.producerBatches.map((b) => b.producerId)).toEqual([5, 6]);
    const read = await s.read(tp, 0, 1 << 20);
    expect(read.filter((b) => b.recordCount > 0).map((b) => b.baseOffset)).toEqual([0, 4]);
    expect(read.find((b) => b.baseOffset === 4)!.bytes.equals(epoch1.bytes)).toBe(true);
    expect((await s.read(tp, 2, 1 << 20)).filter((b) => b.recordCount > 0).map((b) => b.baseOffset)).toEqual([
      4,
    ]);
    expect(await s.offsetForTimestamp(tp, 2_000)).toEqual({ offset: 4, timestamp: 3_000 });
    expect(await s.maxTimestamp(tp)).toEqual({ offset: 5, timestamp: 3_001 });

    // And so it stays, in later opens without a leadership and after appends of epoch 2.
    await s.append(tp, [stamped(6, 2, 6, 1, 4_000)]);
    const again = await s.openPartition(tp);
    expect(again.nextOffset).toBe(7);
    expect(again.producerBatches.map((b) => b.baseOffset)).toEqual([0, 4, 6]);
    expect(await s.offsetForTimestamp(tp, 5_000)).toBeNull();
  });

  it('takes back an append whose confirmation is refused (a leader that lost the partition)', async () => {
    const s = storage();
    const t = testTopic(1);
    await s.createTopic(t);
    const tp = { topic: t.name, partition: 0 };
    let confirmations = 0;
    const confirm = async () => {
      confirmations++;
    };
    await s.append(tp, [stamped(0, 0, 5, 2)], { confirm });
    expect(confirmations).toBe(1);

    const lost = new StorageError('FENCED', 'the partition has another leader', false);
    const failed = await s
      .append(tp, [stamped(2, 0, 5, 2, 9_000)], { confirm: () => Promise.reject(lost) })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(failed).toBe(lost);
    // As if never written: not read, not the end, not in the producers' state, not a timestamp.
    expect((await s.read(tp, 0, 1 << 20)).map((b) => b.baseOffset)).toEqual([0]);
    const opened = await s.openPartition(tp);
    expect(opened.nextOffset).toBe(2);
    expect(opened.producerBatches.map((b) => b.baseOffset)).toEqual([0]);
    expect(await s.offsetForTimestamp(tp, 5_000)).toBeNull();
    // Its offsets are handed out again.
    const again = stamped(2, 0, 5, 1, 2_000);
    await s.append(tp, [again], { confirm });
    const read = await s.read(tp, 2, 1 << 20);
    expect(read.map((b) => b.bytes.equals(again.bytes))).toEqual([true]);
  });

  it('leaves the fences of one partition to that partition', async () => {
    const s = storage();
    const t = testTopic(2);
    await s.createTopic(t);
    const p0 = { topic: t.name, partition: 0 };
    const p1 = { topic: t.name, partition: 1 };
    await s.openPartition(p0, leadership(3, []));
    // Partition 1 was not opened with a leadership: a batch of any epoch is taken.
    await s.append(p1, [stamped(0, 0, -1, 1)]);
    await refused(s.append(p0, [stamped(0, 2, -1, 1)]));
    await s.append(p0, [stamped(0, 3, -1, 1)]);
    expect((await s.openPartition(p1)).nextOffset).toBe(1);
    expect((await s.openPartition(p0)).nextOffset).toBe(1);
  });
}
