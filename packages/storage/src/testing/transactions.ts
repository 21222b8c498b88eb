/**
 * The contract of transactions in storage (storage.ts, `append` and `transactions`): transactional
 * batches are staged and read in place, a COMMIT marker keeps them, an ABORT marker drops them from
 * every read, markers are read at their offsets, the open transactions come back with openPartition,
 * and the coordinator's state is kept per transactional id. Part of runStorageContract for storages
 * with transactions.
 */
import type { RecordInput } from '@kch/protocol';
import { expect, it } from 'vitest';
import type { Storage, StoredBatch, TopicPartition, TransactionMetadata } from '../storage.js';
import { producerBatch, testMarker, testTopic } from './fixtures.js';

const rec = (value: string): RecordInput => ({ key: Buffer.from(`k-${value}`), value: Buffer.from(value) });

/** A batch of `values` at `offset`: transactional when `pid` is given, plain otherwise. */
const batch = (offset: number, values: string[], pid?: number, sequence = 0): StoredBatch =>
  producerBatch(offset, values.map(rec), pid, sequence);

/**
 * What a read from `from` returns, as [baseOffset, hex of the bytes] of each batch that holds a
 * record or is a marker: a storage may return offsets without records (holes) as empty batches.
 */
async function readAll(s: Storage, tp: TopicPartition, from = 0): Promise<[number, string][]> {
  const out: [number, string][] = [];
  let next = from;
  for (;;) {
    const batches = await s.read(tp, next, 1 << 20);
    if (batches.length === 0) return out;
    for (const b of batches) {
      if (b.recordCount > 0 || b.isControl) out.push([b.baseOffset, b.bytes.toString('hex')]);
      next = b.lastOffset + 1;
    }
  }
}

const seen = (...batches: StoredBatch[]): [number, string][] =>
  batches.map((b) => [b.baseOffset, b.bytes.toString('hex')]);

function txnState(id: string, overrides: Partial<TransactionMetadata> = {}): TransactionMetadata {
  return {
    transactionalId: id,
    producerId: 42,
    previousProducerId: -1,
    producerEpoch: 3,
    lastProducerEpoch: 2,
    timeoutMs: 60_000,
    state: 'Ongoing',
    partitions: [{ topic: 'orders', partition: 1 }],
    groups: [
      {
        group: 'g',
        offsets: [
          { topic: 'in', partition: 0, offset: 7, leaderEpoch: -1, metadata: 'm', commitTimestamp: 5 },
        ],
      },
    ],
    startedAt: 1_000,
    updatedAt: 2_000,
    ...overrides,
  };
}

export function runTransactionContract(
  storage: () => Storage,
  /** Closes the storage and returns a new one over the same data (durable storages only). */
  reopen: ((s: Storage) => Promise<Storage>) | undefined,
  /** Sets the storage the suite's afterEach closes (after a reopen). */
  replace: (s: Storage) => void,
): void {
  const topic = async (s: Storage): Promise<TopicPartition> => {
    const t = testTopic(1);
    await s.createTopic(t);
    return { topic: t.name, partition: 0 };
  };

  it('reads transactional batches in place while their transaction is open, and reports it open', async () => {
    const s = storage();
    const tp = await topic(s);
    const written = [batch(0, ['a', 'b']), batch(2, ['t1', 't2'], 7), batch(4, ['c'])];
    await s.append(tp, written);
    expect(await readAll(s, tp)).toEqual(seen(...written));
    const snapshot = await s.openPartition(tp);
    expect(snapshot.nextOffset).toBe(5);
    expect(snapshot.openTransactions).toEqual([{ producerId: 7, producerEpoch: 0, firstOffset: 2 }]);
  });

  it('keeps a committed transaction: its batches stay, the marker is read at its offset', async () => {
    const s = storage();
    const tp = await topic(s);
    const written = [batch(0, ['t1'], 7), batch(1, ['a']), batch(2, ['t2'], 7, 1)];
    for (const b of written) await s.append(tp, [b]);
    const commit = testMarker(3, 7, 0, 'commit');
    await s.append(tp, [commit]);
    expect(await readAll(s, tp)).toEqual(seen(...written, commit));
    const snapshot = await s.openPartition(tp);
    expect(snapshot.nextOffset).toBe(4);
    expect(snapshot.openTransactions ?? []).toEqual([]);
  });

  it('drops an aborted transaction from every read; offsets stay where they were', async () => {
    const s = storage();
    const tp = await topic(s);
    const plain = batch(2, ['a']);
    await s.append(tp, [batch(0, ['t1', 't2'], 7), plain, batch(3, ['t3'], 7, 2)]);
    const abort = testMarker(4, 7, 0, 'abort');
    await s.append(tp, [abort]);
    expect(await readAll(s, tp)).toEqual(seen(plain, abort));
    expect(await readAll(s, tp, 3)).toEqual(seen(abort));
    // The aborted batches' offsets are holes, not records retention removed: the log still starts at 0.
    expect(await s.currentLogStartOffset(tp)).toBe(0);
    const snapshot = await s.openPartition(tp);
    expect(snapshot.nextOffset).toBe(5);
    expect(snapshot.openTransactions ?? []).toEqual([]);
    // A later transaction of the same producer is staged and ended on its own.
    const again = batch(5, ['t4'], 7, 3);
    const commit = testMarker(6, 7, 0, 'commit');
    await s.append(tp, [again]);
    await s.append(tp, [commit]);
    expect(await readAll(s, tp)).toEqual(seen(plain, abort, again, commit));
  });

  it('keeps the log start of a partition that begins with an aborted transaction', async () => {
    const s = storage();
    const tp = await topic(s);
    await s.append(tp, [batch(0, ['t1', 't2'], 7)]);
    const abort = testMarker(2, 7, 0, 'abort');
    await s.append(tp, [abort]);
    expect(await s.currentLogStartOffset(tp)).toBe(0);
    expect(await readAll(s, tp)).toEqual(seen(abort));
  });

  it('ends the transactions of two producers apart', async () => {
    const s = storage();
    const tp = await topic(s);
    const first = batch(0, ['p7'], 7);
    const second = batch(1, ['p8'], 8);
    await s.append(tp, [first, second]);
    const commit = testMarker(2, 7, 0, 'commit');
    await s.append(tp, [commit]);
    expect((await s.openPartition(tp)).openTransactions).toEqual([
      { producerId: 8, producerEpoch: 0, firstOffset: 1 },
    ]);
    const abort = testMarker(3, 8, 0, 'abort');
    await s.append(tp, [abort]);
    expect(await readAll(s, tp)).toEqual(seen(first, commit, abort));
    expect((await s.openPartition(tp)).openTransactions ?? []).toEqual([]);
  });

  it('keeps the coordinator state of each transactional id, replaced by each put', async () => {
    const store = storage().transactions!;
    const id = `txn-${Date.now()}-${Math.random()}`;
    await store.put(txnState(id));
    await store.put(txnState(`${id}-other`, { state: 'Empty', partitions: [], groups: [] }));
    await store.put(txnState(id, { state: 'PrepareCommit', updatedAt: 3_000 }));
    const listed = (await store.list()).filter((t) => t.transactionalId.startsWith(id));
    expect(listed.sort((a, b) => a.transactionalId.localeCompare(b.transactionalId))).toEqual([
      txnState(id, { state: 'PrepareCommit', updatedAt: 3_000 }),
      txnState(`${id}-other`, { state: 'Empty', partitions: [], groups: [] }),
    ]);
    await store.remove(id);
    expect(
      (await store.list()).filter((t) => t.transactionalId.startsWith(id)).map((t) => t.transactionalId),
    ).toEqual([`${id}-other`]);
  });

  if (reopen) {
    it('keeps open transactions and the coordinator state across a reopen, and ends them after it', async () => {
      let s = storage();
      const tp = await topic(s);
      const id = `txn-${Date.now()}-${Math.random()}`;
      await s.transactions!.put(txnState(id));
      const staged = [batch(0, ['t1'], 7), batch(1, ['a']), batch(2, ['u1'], 8)];
      await s.append(tp, staged);
      s = await reopen(s);
      replace(s);
      expect((await s.transactions!.list()).filter((t) => t.transactionalId === id)).toEqual([txnState(id)]);
      const snapshot = await s.openPartition(tp);
      expect(snapshot.nextOffset).toBe(3);
      expect(snapshot.openTransactions).toEqual([
        { producerId: 7, producerEpoch: 0, firstOffset: 0 },
        { producerId: 8, producerEpoch: 0, firstOffset: 2 },
      ]);
      expect(await readAll(s, tp)).toEqual(seen(...staged));
      const commit = testMarker(3, 7, 0, 'commit');
      const abort = testMarker(4, 8, 0, 'abort');
      await s.append(tp, [commit]);
      await s.append(tp, [abort]);
      s = await reopen(s);
      replace(s);
      expect(await readAll(s, tp)).toEqual(seen(staged[0]!, staged[1]!, commit, abort));
      expect((await s.openPartition(tp)).openTransactions ?? []).toEqual([]);
    });
  }
}
