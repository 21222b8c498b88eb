/**
 * Transactions in a partition's batches, as every storage with transactions reads them: which batches
 * are staged (open transactions), and what a marker ends. One place for the rule, so the memory and
 * ClickHouse storages (and their recovery) cannot drift apart.
 */
import { ControlRecordType, decodeControlRecordKey, decodeRecordsSync } from '@kch/protocol';
import type { OpenTransaction, StoredBatch } from './storage.js';

/** Whether a batch is staged until its transaction ends: transactional data, not a marker. */
export function isStaged(b: StoredBatch): boolean {
  return b.isTransactional && !b.isControl;
}

/**
 * The end a marker batch writes: 'commit' or 'abort'; null for a control batch of another type
 * (Kafka's KRaft records; never appended by kch) or an ordinary batch.
 */
export function markerType(b: StoredBatch): 'commit' | 'abort' | null {
  if (!b.isControl) return null;
  // A marker is uncompressed and holds one record: decoding it costs what reading its key does.
  const [record] = decodeRecordsSync(b.bytes);
  if (!record) return null;
  const type = decodeControlRecordKey(record.key).type;
  if (type === ControlRecordType.Commit) return 'commit';
  if (type === ControlRecordType.Abort) return 'abort';
  return null;
}

/**
 * The transactions open at the end of `batches` (a partition's log in offset order): for each
 * producer whose last transactional batch no marker followed, the first offset of its transaction.
 * Batches an ABORT dropped are not in a log, so they cannot reopen anything.
 */
export function openTransactionsOf(
  batches: Iterable<
    Pick<StoredBatch, 'isControl' | 'isTransactional' | 'producerId' | 'producerEpoch' | 'baseOffset'>
  >,
): OpenTransaction[] {
  const open = new Map<number, OpenTransaction>();
  for (const b of batches) {
    if (b.isControl) {
      if (b.isTransactional) open.delete(b.producerId);
    } else if (b.isTransactional && !open.has(b.producerId)) {
      open.set(b.producerId, {
        producerId: b.producerId,
        producerEpoch: b.producerEpoch,
        firstOffset: b.baseOffset,
      });
    }
  }
  return [...open.values()].sort((a, b) => a.firstOffset - b.firstOffset);
}
