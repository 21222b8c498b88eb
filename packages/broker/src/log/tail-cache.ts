/**
 * Recent batches of every partition, in memory under one byte budget for the broker, so consumers
 * at the tail are answered without a storage read. The budget evicts the oldest batches first,
 * across partitions; what is evicted is still in storage.
 */
import type { StoredBatch } from '@kch/storage';

interface CachedLog {
  readonly tail: StoredBatch[];
}

export class TailCache {
  private bytes = 0;
  /** Appends in order, for eviction: which log, how many batches. */
  private readonly order: { log: CachedLog; count: number }[] = [];
  private head = 0;

  constructor(private readonly budget: number) {}

  get size(): number {
    return this.bytes;
  }

  add(log: CachedLog, batches: readonly StoredBatch[]): void {
    for (const b of batches) {
      log.tail.push(b);
      this.bytes += b.bytes.length;
    }
    this.order.push({ log, count: batches.length });
    while (this.bytes > this.budget && this.head < this.order.length) this.evictOldest();
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
  }

  private evictOldest(): void {
    const entry = this.order[this.head++]!;
    const removed = entry.log.tail.splice(0, entry.count);
    for (const b of removed) this.bytes -= b.bytes.length;
  }

  /** Drops cached batches that end before `offset` (after DeleteRecords or retention). */
  trimBefore(log: CachedLog, offset: number): void {
    let n = 0;
    while (n < log.tail.length && log.tail[n]!.lastOffset < offset) n++;
    this.removeFront(log, n);
  }

  /** Drops cached batches that begin before `offset` (compaction changed what is stored there). */
  trimStartingBefore(log: CachedLog, offset: number): void {
    let n = 0;
    while (n < log.tail.length && log.tail[n]!.baseOffset < offset) n++;
    this.removeFront(log, n);
  }

  /** Forgets a log entirely (topic deleted). */
  drop(log: CachedLog): void {
    this.removeFront(log, log.tail.length);
  }

  private removeFront(log: CachedLog, n: number): void {
    if (n === 0) return;
    const removed = log.tail.splice(0, n);
    for (const b of removed) this.bytes -= b.bytes.length;
    // Keep the eviction order consistent: consume the removed count from this log's oldest entries.
    let left = n;
    for (let i = this.head; i < this.order.length && left > 0; i++) {
      const e = this.order[i]!;
      if (e.log !== log) continue;
      const take = Math.min(e.count, left);
      e.count -= take;
      left -= take;
    }
  }
}
