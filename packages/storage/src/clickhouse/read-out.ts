/**
 * The batches one read of a partition returns (./partition-reader.ts), within its byte budget: the
 * first batch goes whatever its size, as a Fetch response must hold at least one.
 */
import type { StoredBatch } from '../storage.js';
import { EMPTY_BATCH_BYTES, emptyBatch } from './records.js';
import { noteRecordSize, type TopicState } from './topic-state.js';

function recordsIn(batches: readonly StoredBatch[]): number {
  let n = 0;
  for (const b of batches) n += b.recordCount;
  return n;
}

export class ReadOut {
  private readonly batches: StoredBatch[] = [];
  private total = 0;

  constructor(private readonly maxBytes: number) {}

  get empty(): boolean {
    return this.batches.length === 0;
  }

  /** The budget is reached. */
  get full(): boolean {
    return this.total >= this.maxBytes;
  }

  /** What is left of the budget. */
  get left(): number {
    return Math.max(0, this.maxBytes - this.total);
  }

  get lastOffset(): number | undefined {
    return this.batches[this.batches.length - 1]?.lastOffset;
  }

  /** Adds `b` unless it would pass the budget (the first batch always goes); says whether it did. */
  add(b: StoredBatch): boolean {
    if (this.batches.length > 0 && this.total + b.bytes.length > this.maxBytes) return false;
    this.batches.push(b);
    this.total += b.bytes.length;
    return true;
  }

  /** An empty batch over offsets without records, when it fits. */
  addEmpty(baseOffset: number, lastOffset: number): void {
    if (this.batches.length === 0 || this.total + EMPTY_BATCH_BYTES <= this.maxBytes)
      this.batches.push(emptyBatch(baseOffset, lastOffset));
  }

  /** The batches, once the topic's bytes-per-record estimate has learnt from them. */
  done(t: TopicState): StoredBatch[] {
    noteRecordSize(t, this.total, recordsIn(this.batches), 0.5);
    return this.batches;
  }
}
