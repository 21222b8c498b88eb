/**
 * What a partition keeps in memory of its rows in `_kch_txn_batches` (./side-batches.ts): the
 * transactional batches no marker has ended yet, exactly, and where markers and ended batches are,
 * roughly. Loaded when
 * the partition is recovered (./transaction-ends.ts), updated by appends (./partition-writer.ts).
 *
 * It lets reads of a topic without transactions never ask the side table (`meets`), and answers
 * openPartition's open transactions and producer batches without SQL. Markers stay in the log for
 * good, one per transaction and partition, so their offsets are kept as at most
 * {@link MAX_MARKER_RANGES} ranges that cover them (merged when there are more): a superset, which at
 * worst makes a read ask the side table for nothing.
 */
import { producerBatchInfo } from '../producer-batches.js';
import type { OpenTransaction, ProducerBatchInfo } from '../storage.js';
import { openTransactionsOf } from '../transaction-batches.js';

/** Ranges of marker offsets kept per partition before neighbours are merged. */
export const MAX_MARKER_RANGES = 256;

/** A transactional batch of the partition that no marker of its producer has ended yet. */
export interface PendingBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly producerId: number;
  readonly producerEpoch: number;
  /** The partition leader epoch in its header: the key of its row, with the offset. */
  readonly leaderEpoch: number;
  readonly baseSequence: number;
  readonly maxTimestamp: number;
  /** The version of its row: the row that ends it must have a higher one. */
  readonly version: number;
  readonly isTransactional: true;
  readonly isControl: false;
}

/**
 * Offset ranges that cover every offset added (and maybe more), at most `max` of them: when there
 * are more, each pair of neighbours becomes one range. Offsets come in ascending order from appends
 * and recovery; one out of order is still covered.
 */
export class OffsetRanges {
  /** lo0, hi0, lo1, hi1, ... ascending, disjoint. */
  private ranges: number[] = [];

  constructor(private readonly max: number) {}

  get size(): number {
    return this.ranges.length / 2;
  }

  add(offset: number): void {
    const r = this.ranges;
    const n = r.length;
    if (n === 0 || offset > r[n - 1]! + 1) r.push(offset, offset);
    else if (offset >= r[n - 2]!) r[n - 1] = Math.max(r[n - 1]!, offset);
    else if (!this.meets(offset, offset + 1)) {
      // Out of order (never from appends): into its place, as a range of its own.
      const at = this.firstEndingAtOrAfter(offset);
      r.splice(at * 2, 0, offset, offset);
    }
    if (r.length > this.max * 2) this.halve();
  }

  /** Whether some range has an offset in [from, to). */
  meets(from: number, to: number): boolean {
    const i = this.firstEndingAtOrAfter(from);
    return i < this.size && this.ranges[i * 2]! < to;
  }

  /** Index of the first range whose end is at or after `offset`. */
  private firstEndingAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid * 2 + 1]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private halve(): void {
    const r = this.ranges;
    const out: number[] = [];
    for (let i = 0; i < r.length; i += 4) out.push(r[i]!, i + 3 < r.length ? r[i + 3]! : r[i + 1]!);
    this.ranges = out;
  }
}

export class SideIndex {
  /** Ascending by offset, disjoint. */
  private pending: PendingBatch[] = [];
  private readonly markers = new OffsetRanges(MAX_MARKER_RANGES);
  /**
   * Pending batches staged by this index's appends (not loaded by recovery) that no commit has tried
   * to copy into the topic's table yet: none of their records can be there.
   */
  private readonly uncopied = new WeakSet<PendingBatch>();
  /** Bytes per batch the side table returned so far, to size its reads (as bytesPerRecord does rows). */
  bytesPerBatch = 16 * 1024;

  /**
   * A staged batch, after those there are; `staged`: appended just now (not recovered), so no commit
   * has copied any of its records yet.
   */
  addPending(b: PendingBatch, staged = false): void {
    const last = this.pending[this.pending.length - 1];
    if (!last || last.baseOffset < b.baseOffset) this.pending.push(b);
    else this.pending = [...this.pending.filter((p) => p.baseOffset !== b.baseOffset), b].sort(byOffset);
    if (staged) this.uncopied.add(b);
  }

  /**
   * Whether a commit may have copied records of `batches` into the topic's table already (one cut
   * short, or one of a broker before a restart): false only when every one of them was staged by
   * this index and never copied. From now on they count as copied.
   */
  copying(batches: readonly PendingBatch[]): boolean {
    let maybe = false;
    for (const b of batches) {
      if (!this.uncopied.has(b)) maybe = true;
      this.uncopied.delete(b);
    }
    return maybe;
  }

  addMarker(offset: number): void {
    this.markers.add(offset);
  }

  /** The batches a marker of `producerId` at `markerOffset` ends: the producer's pending ones before it. */
  endedBy(producerId: number, markerOffset: number): PendingBatch[] {
    return this.pending.filter((b) => b.producerId === producerId && b.baseOffset < markerOffset);
  }

  /**
   * Forgets the batches a marker ended, once its append is stored. Where they were stays covered, as
   * markers are: an aborted batch's offsets are the log's holes, which the log start must not pass
   * (./partition-states.ts `currentLogStart` asks the side table for them).
   */
  end(producerId: number, markerOffset: number): void {
    this.pending = this.pending.filter((b) => {
      const ended = b.producerId === producerId && b.baseOffset < markerOffset;
      if (ended) this.markers.add(b.baseOffset);
      return !ended;
    });
  }

  /** Forgets the batches from `offset` on: a rejected append's, whose rows are removed. */
  dropFrom(offset: number): void {
    this.pending = this.pending.filter((b) => b.baseOffset < offset);
  }

  /** Forgets the batches wholly before `offset` (DeleteRecords removed them). */
  dropBefore(offset: number): void {
    this.pending = this.pending.filter((b) => b.lastOffset >= offset);
  }

  /** Whether a pending batch or a marker may have an offset in [from, to). */
  meets(from: number, to: number): boolean {
    if (from >= to) return false;
    const i = this.firstPendingEndingAtOrAfter(from);
    if (i < this.pending.length && this.pending[i]!.baseOffset < to) return true;
    return this.markers.meets(from, to);
  }

  /** The first offset of a pending batch that ends at or after `offset`; -1 when none. */
  firstPendingFrom(offset: number): number {
    const b = this.pending[this.firstPendingEndingAtOrAfter(offset)];
    return b ? Math.max(b.baseOffset, offset) : -1;
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** The transactions open in the partition (PartitionSnapshot.openTransactions). */
  openTransactions(): OpenTransaction[] {
    return openTransactionsOf(this.pending);
  }

  /** The pending batches as producer state (openPartition merges them with the table's). */
  producerBatches(): ProducerBatchInfo[] {
    // An ended row pending for lack of a marker keeps no sequence; its records are in the table.
    return this.pending.filter((b) => b.baseSequence >= 0).map(producerBatchInfo);
  }

  private firstPendingEndingAtOrAfter(offset: number): number {
    const p = this.pending;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function byOffset(a: PendingBatch, b: PendingBatch): number {
  return a.baseOffset - b.baseOffset;
}
