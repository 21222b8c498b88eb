/**
 * Log compaction of kch's own topic tables (Storage.compact; docs/compaction.md): one read of where
 * the cleaning stops (min.compaction.lag.ms), one count of the rows it removes, and a lightweight
 * DELETE of them when there are any, so a partition with nothing to remove costs no mutation. Rows
 * keep their batch's header in their columns (./schema.ts), so a batch some of whose rows went is
 * read back with the same base offset, last offset delta and producer fields, and holes where the
 * rows were; a batch none of whose rows is left is a hole, as an aborted transaction's.
 */

import { removableMarkers, type TransactionBatch } from '../compaction.js';
import type { CompactionRequest, CompactionResult, TopicPartition } from '../storage.js';
import type { Backend } from './backend.js';
import { MARKER, type SideBatches } from './side-batches.js';
import { int } from './sql.js';
import {
  compactedAway,
  countRows,
  deleteRows,
  firstRecordAfter,
  ownRecordsBetween,
  type PartitionRows,
  transactionBatches,
} from './statements.js';
import { fencesOf, ownRowsOf, type PartitionState, type TopicState } from './topic-state.js';

/** DateTime64(3) ends in 2299: a cut-off past it (no min.compaction.lag.ms) needs no lookup. */
const LAST_TIMESTAMP = 10_413_791_999_999;

export async function compactOwnPartition(
  backend: Backend,
  side: SideBatches,
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
  const markers = await removeMarkers(
    backend,
    side,
    t,
    tp,
    rows,
    from,
    Math.min(to, request.tombstonesBefore),
  );
  return { cleanedTo: to, removed: removed + markers };
}

/**
 * Removes the transaction markers below `before` none of whose transaction's records is left (after the
 * DELETE above, which hides its rows at once), as Kafka's cleaner does: how many went. A marker lives
 * in the side table (./side-batches.ts) with the `committed` or `aborted` rows of its transaction's
 * batches; those go with it, since recovery counts such rows as an open transaction until a marker
 * follows them.
 */
async function removeMarkers(
  backend: Backend,
  side: SideBatches,
  t: TopicState,
  tp: TopicPartition,
  rows: PartitionRows,
  from: number,
  before: number,
): Promise<number> {
  if (before <= from) return 0;
  const where = `${tp.topic}-${tp.partition}`;
  const sideRows = side.rowsOf(t.record.topicId, tp.partition, fencesOf(t, tp.partition).starts);
  const markers = (await side.list(`read the transaction markers of ${where}`, sideRows, from)).filter(
    (r) => r.kind === MARKER && r.baseOffset < before,
  );
  if (markers.length === 0) return 0;
  const r = await backend.select(
    `read the transactional batches of ${where}`,
    transactionBatches(t.table, rows, from, before),
    t,
  );
  const batches: TransactionBatch[] = markers.map((m) => ({ ...m, isControl: true }));
  while (!r.done) batches.push({ producerId: r.i64(), baseOffset: r.i64(), isControl: false });
  batches.sort((a, b) => a.baseOffset - b.baseOffset);
  const removable = removableMarkers(batches, before);
  if (removable.length === 0) return 0;
  // Each marker with the side rows of its transaction: its producer's since that producer's previous marker.
  const gone = new Set(removable.map((m) => m.baseOffset));
  const previous = new Map<number, number>();
  const ranges: string[] = [];
  for (const m of markers) {
    const after = previous.get(m.producerId) ?? -1;
    previous.set(m.producerId, m.baseOffset);
    if (!gone.has(m.baseOffset)) continue;
    ranges.push(
      `(producer_id = ${int(m.producerId)} AND base_offset > ${int(after)} AND base_offset <= ${int(m.baseOffset)})`,
    );
  }
  await side.remove(`transaction markers of ${where}`, `${sideRows} AND (${ranges.join(' OR ')})`, true);
  return removable.length;
}
