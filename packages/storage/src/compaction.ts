/**
 * Log compaction over whole stored batches (the memory storage; docs/compaction.md): Kafka's
 * cleaner rule applied to a partition's batches, each batch encoded again with the records it keeps
 * under its own header, so offsets, producer fields and sequences never change.
 */
import {
  type DecodedBatch,
  decodeBatch,
  encodeBatchWithRecords,
  type KafkaRecord,
  recordTimestamp,
} from '@kch/protocol';
import type { CompactionRequest, CompactionResult, StoredBatch } from './storage.js';
import { storedBatchOf } from './stored-batch.js';

/** A record's key as a map key: the bytes as they are (latin1 maps each byte to one character). */
function keyOf(record: KafkaRecord): string | null {
  return record.key === null ? null : record.key.toString('latin1');
}

/**
 * The batches of each idempotent producer that compaction keeps whole: its last one, whose sequence
 * duplicate detection needs (Kafka keeps that batch's header even when its records go).
 */
export function lastBatchOfEachProducer(batches: readonly StoredBatch[]): Set<StoredBatch> {
  const last = new Map<number, StoredBatch>();
  for (const b of batches) if (b.producerId >= 0 && !b.isControl) last.set(b.producerId, b);
  return new Set(last.values());
}

/** A transactional batch as the marker rule needs it: its producer, offset, and whether it is a marker. */
export interface TransactionBatch {
  producerId: number;
  baseOffset: number;
  isControl: boolean;
}

/**
 * The transaction markers among `batches` (transactional batches, in offset order, as left after a
 * cleaning's removals) that the cleaning removes, as Kafka's cleaner does (LogCleaner's
 * onControlBatchRead): a marker below `before` (the tombstone horizon: delete.retention.ms passed since
 * a cleaning passed it) none of whose transaction's batches is left, those being its producer's
 * batches since that producer's previous marker.
 */
export function removableMarkers<B extends TransactionBatch>(batches: readonly B[], before: number): B[] {
  const pending = new Set<number>();
  const out: B[] = [];
  for (const b of batches) {
    if (b.baseOffset >= before) break;
    if (!b.isControl) pending.add(b.producerId);
    else if (!pending.delete(b.producerId)) out.push(b);
  }
  return out;
}

/**
 * `batches` (one partition's, in offset order, from its log start on) compacted as
 * Storage.compact says: the batches to keep, in order, and what was done.
 */
export async function compactBatches(
  batches: readonly StoredBatch[],
  request: CompactionRequest,
): Promise<{ batches: StoredBatch[]; result: CompactionResult }> {
  const decoded = new Map<StoredBatch, DecodedBatch>();
  let cleanedTo = request.endOffset;
  // Where the cleaning stops: the end given, or the first record younger than the lag allows.
  for (const b of batches) {
    if (b.baseOffset >= cleanedTo) break;
    if (b.isControl) continue;
    const d = await decodeBatch(b.bytes, { verifyCrc: false });
    decoded.set(b, d);
    for (const r of d.records) {
      const offset = b.baseOffset + r.offsetDelta;
      if (offset >= cleanedTo) break;
      if (Number(recordTimestamp(d.header, r)) > request.maxTimestamp) cleanedTo = offset;
    }
  }
  // The latest offset of each key below it, and the last record there, which stays.
  const latest = new Map<string, number>();
  let last = -1;
  for (const [b, d] of decoded) {
    for (const r of d.records) {
      const offset = b.baseOffset + r.offsetDelta;
      const key = keyOf(r);
      if (offset >= cleanedTo) break;
      last = offset;
      if (key !== null) latest.set(key, offset);
    }
  }
  const kept = lastBatchOfEachProducer(batches);
  const out: StoredBatch[] = [];
  let removed = 0;
  for (const b of batches) {
    const d = decoded.get(b);
    if (!d || kept.has(b)) {
      out.push(b);
      continue;
    }
    const records = d.records.filter((r) => {
      const offset = b.baseOffset + r.offsetDelta;
      if (offset >= cleanedTo || offset === last) return true;
      const key = keyOf(r);
      if (key === null || latest.get(key) !== offset) return false;
      return !(r.value === null && offset < request.tombstonesBefore);
    });
    if (records.length === d.records.length) {
      out.push(b);
      continue;
    }
    removed += d.records.length - records.length;
    // A batch left without records goes: its offsets are holes, as an aborted transaction's are.
    if (records.length > 0) out.push(storedBatchOf(await encodeBatchWithRecords(d, records)));
  }
  const transactional = out.filter((b) => b.isTransactional);
  const markers = new Set(removableMarkers(transactional, Math.min(cleanedTo, request.tombstonesBefore)));
  return {
    batches: markers.size === 0 ? out : out.filter((b) => !markers.has(b)),
    result: { cleanedTo, removed: removed + markers.size },
  };
}
