/**
 * The staged batches and markers a read of a partition meets (./partition-reader.ts): Kafka's log
 * holds them at their offsets, where the topic's table has no row. Fetched from `_kch_txn_batches` in
 * offset order, a few at a time, and only when the partition's side index says the read's range may
 * hold one: a read of a topic without transactions never asks.
 */
import type { StoredBatch } from '../storage.js';
import type { ReadOut } from './read-out.js';
import type { SideBatches } from './side-batches.js';
import type { SideIndex } from './side-index.js';

/** Side batches asked for at most in one query. */
const MAX_BATCHES = 10_000;

export class SideCursor {
  private batches: StoredBatch[] = [];
  private at = 0;
  /** The last query returned everything up to the read's end. */
  private exhausted = false;

  constructor(
    private readonly side: SideBatches,
    private readonly index: SideIndex,
    /** The partition's side rows, under its fences (SideBatches.rowsOf): built only when asked. */
    private readonly rows: () => string,
    /** The read's end (the log's end). */
    private readonly end: number,
    private readonly maxBytes: number,
    private readonly what: string,
  ) {}

  /**
   * Reads [from, end) into `out`: each side batch whole at its place, and `rows(cursor, upTo)` for
   * the stretches between them (upTo: the next side batch, or the end), which returns where to go
   * on, or null when the read is done.
   */
  async around(
    out: ReadOut,
    from: number,
    end: number,
    rows: (cursor: number, upTo: number) => Promise<number | null>,
  ): Promise<void> {
    let cursor: number | null = from;
    while (cursor !== null && cursor < end) {
      const s = await this.peek(cursor);
      if (s && s.baseOffset <= cursor) {
        if (!out.add(s) || out.full) return;
        cursor = s.lastOffset + 1;
      } else cursor = await rows(cursor, s ? s.baseOffset : end);
    }
  }

  /** The first side batch that ends at or after `cursor` (it may begin before it), or null. */
  async peek(cursor: number): Promise<StoredBatch | null> {
    for (;;) {
      while (this.at < this.batches.length && this.batches[this.at]!.lastOffset < cursor) this.at++;
      const b = this.batches[this.at];
      if (b) return b;
      if (this.exhausted || !this.index.meets(cursor, this.end)) return null;
      const limit = Math.min(MAX_BATCHES, Math.ceil(this.maxBytes / this.index.bytesPerBatch) + 2);
      this.batches = await this.side.between(this.what, this.rows(), cursor, this.end, limit);
      this.at = 0;
      this.exhausted = this.batches.length < limit;
      this.learnSize();
      if (this.batches.length === 0) return null;
    }
  }

  /** Folds the size of the batches read into the partition's estimate (the newest weighing half). */
  private learnSize(): void {
    if (this.batches.length === 0) return;
    let bytes = 0;
    for (const b of this.batches) bytes += b.bytes.length;
    const seen = bytes / this.batches.length;
    this.index.bytesPerBatch = Math.max(64, Math.round((this.index.bytesPerBatch + seen) / 2));
  }
}
