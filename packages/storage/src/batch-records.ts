/**
 * Record-level answers from stored batches, for storages that keep whole batches (memory): which
 * record is the first at or after a timestamp, and which carries the batch's max timestamp. Batch
 * headers only give the range, so the records are decoded (decompressed when needed).
 */
import { decodeBatch, TimestampType } from '@kch/protocol';
import type { StoredBatch } from './storage.js';

export interface OffsetAndTimestamp {
  offset: number;
  timestamp: number;
}

/** Absolute offset and timestamp of each record of a batch, in order; LogAppendTime gives all the same. */
export async function recordTimes(batch: StoredBatch): Promise<OffsetAndTimestamp[]> {
  const { header, records } = await decodeBatch(batch.bytes, { verifyCrc: false });
  const logAppend = header.timestampType === TimestampType.LogAppendTime;
  const base = Number(header.baseTimestamp);
  return records.map((r) => ({
    offset: batch.baseOffset + r.offsetDelta,
    timestamp: logAppend ? batch.maxTimestamp : base + r.timestampDelta,
  }));
}

/** The first record of `batch` at or after `offset` whose timestamp is at or after `timestamp`. */
export async function firstRecordAtOrAfter(
  batch: StoredBatch,
  timestamp: number,
  fromOffset: number,
): Promise<OffsetAndTimestamp | null> {
  for (const r of await recordTimes(batch)) {
    if (r.offset >= fromOffset && r.timestamp >= timestamp) return r;
  }
  return null;
}

/** The first record of `batch` that carries its max timestamp. */
export async function recordWithMaxTimestamp(batch: StoredBatch): Promise<OffsetAndTimestamp> {
  let best: OffsetAndTimestamp = { offset: batch.baseOffset, timestamp: -1 };
  for (const r of await recordTimes(batch)) if (r.timestamp > best.timestamp) best = r;
  return best;
}
