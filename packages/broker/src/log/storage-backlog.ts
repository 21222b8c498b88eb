/**
 * The broker's bound on the bytes handed to storage and not stored yet, across all partitions
 * (`maxPendingStorageBytes`). Storage groups what it is handed into inserts (the ClickHouse storage's
 * group commit, ./flusher.ts there) and holds it until the insert ends; when ClickHouse is slower than
 * the producers, that would grow without bound. Past the bound a partition hands nothing more to
 * storage until stored appends give bytes back: its Produce requests wait for their answers (as a
 * Kafka broker delays a response), they hold their bytes in `queuedMaxRequestBytes`, and at that bound
 * the broker stops reading sockets. Nothing acknowledged is dropped, and nothing is refused for it.
 *
 * An append is handed over whenever the bytes pending are below the bound, so they may pass it by one
 * append (one request's batches of a partition); a partition whose queue holds more takes only what
 * fits (./partition-log.ts).
 */
export const DEFAULT_MAX_PENDING_STORAGE_BYTES = 64 * 1024 * 1024;

export class StorageBacklog {
  private used = 0;
  private peak = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Bytes of batches handed to storage and not settled. */
  get bytes(): number {
    return this.used;
  }

  /** The most `bytes` has been since the broker started. */
  get maxBytes(): number {
    return this.peak;
  }

  /** Bytes that may be handed over now: none at or past the bound. */
  get room(): number {
    return Math.max(0, this.limit - this.used);
  }

  /**
   * Resolves at the next release of bytes. The caller checks `room` again and hands over in the same
   * turn (synchronously), so that two partitions woken together cannot both pass the bound.
   */
  released(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  take(bytes: number): void {
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
  }

  release(bytes: number): void {
    this.used -= bytes;
    if (this.waiters.length === 0 || this.used >= this.limit) return;
    const woken = this.waiters;
    this.waiters = [];
    for (const w of woken) w();
  }
}
