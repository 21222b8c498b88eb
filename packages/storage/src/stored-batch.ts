/** A stored batch from its bytes alone (a RecordBatch v2), the fields read from its header. */
import { readBatchHeader } from '@kch/protocol';
import type { StoredBatch } from './storage.js';

/** The StoredBatch of `bytes`: offsets, counts, timestamps and producer fields as its header says. */
export function storedBatchOf(bytes: Buffer): StoredBatch {
  const h = readBatchHeader(bytes);
  const baseOffset = Number(h.baseOffset);
  return {
    baseOffset,
    lastOffset: baseOffset + h.lastOffsetDelta,
    recordCount: h.recordCount,
    baseTimestamp: Number(h.baseTimestamp),
    maxTimestamp: Number(h.maxTimestamp),
    producerId: Number(h.producerId),
    producerEpoch: h.producerEpoch,
    baseSequence: h.baseSequence,
    isTransactional: h.isTransactional,
    isControl: h.isControl,
    bytes,
  };
}
