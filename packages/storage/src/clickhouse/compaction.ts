/**
 * Log compaction of kch's own topic tables (Storage.compact; docs/compaction.md): one read of where
 * the cleaning stops (min.compaction.lag.ms), one count of the rows it removes, and a lightweight
 * DELETE of them when there are any, so a partition with nothing to remove costs no mutation. Rows
 * keep their batch's header in their columns (./schema.ts), so a batch some of whose rows went is
 * read back with the same base offset, last offset delta and producer fields, and holes where the
 * rows were; a batch none of whose rows is left is a hole, as an aborted transaction's.
 */
import type { CompactionRequest, CompactionResult, TopicPartition } from '../storage.js';
import type { Backend } from './backend.js';
import { compactedAway, countRows, deleteRows, firstRecordAfter, ownRecordsBetween } from './statements.js';
import { ownRowsOf, type PartitionState, type TopicState } from './topic-state.js';

/** DateTime64(3) ends in 2299: a cut-off past it (no min.compaction.lag.ms) needs no lookup. */
const LAST_TIMESTAMP = 10_413_791_999_999;

export async function compactOwnPartition(
  backend: Backend,
  t: TopicState,
  tp: TopicPartition,
  p: PartitionState,
  request: CompactionRequest,
): Promise<CompactionResult> {
  const rows = ownRowsOf(t, tp.partition);
  const from = p.logStartOffset;
  let to = Math.min(request.endOffset, p.nextOffset);
  if (to <= from) return { cleanedTo: to, removed: 0 };
  const where = `${tp.topic}-${tp.partition}`;
  if (request.maxTimestamp < LAST_TIMESTAMP) {
    const r = await backend.select(
      `find where compaction of ${where} stops`,
      firstRecordAfter(t.table, ownRecordsBetween(rows, from, to), request.maxTimestamp),
      t,
    );
    const young = r.i64();
    if (young >= 0) to = young;
  }
  if (to <= from) return { cleanedTo: to, removed: 0 };
  const away = compactedAway(t.table, rows, from, to, request.tombstonesBefore);
  const removed = (
    await backend.select(`count what compaction removes from ${where}`, countRows(t.table, away), t)
  ).u64();
  if (removed > 0) await backend.command(`compact ${where}`, deleteRows(t.table, away), t);
  return { cleanedTo: to, removed };
}
