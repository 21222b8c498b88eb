/**
 * The rule of appends in flight ({@link Storage.appendsInFlight}), kept in one place for both sides of
 * it: the broker's partition log, which hands the appends of a partition to storage without waiting
 * for the one before, and a storage that takes them so (the ClickHouse partition writer). Both keep
 * one {@link InFlightAppends} per partition, so they agree by construction, not by prose:
 *
 * - each append covers the offsets from where the one taken in before it ended (no gap, no overlap);
 * - appends settle in the order they were taken in, whatever order their writes end in;
 * - when one is rejected, every later one still unsettled is rejected too, and none of them counts as
 *   stored (a storage must then keep their batches invisible); the end goes back to what was stored;
 * - whoever hands appends in takes at most `max` unsettled at once and, after a rejection, waits until
 *   all have settled, then appends again from the stored end.
 *
 * A storage that never pipelines (the memory storage) only needs {@link appendEnd}.
 */
import { StorageError, type StoredBatch, type TopicPartition } from './storage.js';

/** What happens when an append taken in by {@link InFlightAppends.add} settles, in order. */
export interface AppendSettlement {
  /**
   * Runs once the append's write and every append before it were stored, before it counts as stored;
   * a rejection fails it as a failed write would (ClickHouse writes the log's end down here when its
   * rows do not show it).
   */
  confirm?(): Promise<void>;
  /** The append is stored: {@link InFlightAppends.storedEnd} has moved to its end. */
  stored?(): void;
  /**
   * The append is rejected, with its write's (or confirm's) error, or null when only an earlier
   * append was. Returns what the promise of {@link InFlightAppends.add} rejects with.
   */
  rejected(error: unknown): unknown;
}

interface Entry<T> {
  end: number;
  payload: T;
  /** Settles when the append has settled: true when it and every append before it were stored. */
  done: Promise<boolean>;
}

const STORED = Promise.resolve(true);

/** The error of an append rejected only because one before it was: nothing of it is kept either. */
export function earlierAppendRejected(tp: TopicPartition): StorageError {
  return new StorageError(
    'UNAVAILABLE',
    `an earlier append to ${tp.topic}-${tp.partition} failed, so these records were not kept either; the client may retry`,
    true,
  );
}

/**
 * The end (the offset after the last batch) of an append of `batches` to a log that ends at `end`;
 * throws INVALID_REQUEST when they do not follow it without a gap, in order.
 */
export function appendEnd(tp: TopicPartition, end: number, batches: readonly StoredBatch[]): number {
  for (const b of batches) {
    if (b.baseOffset !== end || b.lastOffset < b.baseOffset) {
      throw new StorageError(
        'INVALID_REQUEST',
        `append to ${tp.topic}-${tp.partition} at offset ${b.baseOffset}, but the log ends at ${end}`,
        false,
      );
    }
    end = b.lastOffset + 1;
  }
  return end;
}

/**
 * The appends of one partition taken in and not settled yet, oldest first, each with a `payload` of
 * the owner's (the broker keeps the producers' state each append leads to).
 */
export class InFlightAppends<T = undefined> {
  private stored: number;
  private accepted: number;
  private rejectedUpTo: number;
  private rejectionCount = 0;
  /** A rejection happened and appends taken in before it are still unsettled. */
  private rejecting = false;
  private readonly entries: Entry<T>[] = [];
  /** Appends and {@link afterSettled} calls not settled yet. */
  private pending = 0;
  /** Settles when everything taken in so far has settled, with whether the appends were all stored. */
  private last: Promise<boolean> = STORED;

  /** `storedEnd`: where the log ends when nothing is in flight (recovered from storage). */
  constructor(storedEnd: number) {
    this.stored = storedEnd;
    this.accepted = storedEnd;
    this.rejectedUpTo = storedEnd;
  }

  /** The end of what was stored: the high watermark. */
  get storedEnd(): number {
    return this.stored;
  }

  /** Where the next append starts: the end of the last one taken in, or the stored end after a rejection. */
  get acceptedEnd(): number {
    return this.accepted;
  }

  /** Rejections so far: a change tells an append being prepared that one before it was rejected. */
  get rejections(): number {
    return this.rejectionCount;
  }

  /** Appends taken in and not settled. */
  get size(): number {
    return this.entries.length;
  }

  /** The payload of the newest append in flight. */
  newest(): T | undefined {
    return this.entries[this.entries.length - 1]?.payload;
  }

  /** The payload of the oldest append in flight (during `stored`, the one after the append settling). */
  oldest(): T | undefined {
    return this.entries[0]?.payload;
  }

  /** Whether another append may be taken in now: fewer than `max` in flight, none since a rejection. */
  accepts(max: number): boolean {
    return this.entries.length === 0 || (!this.rejecting && this.entries.length < max);
  }

  /** Resolves once {@link accepts} says yes. */
  async whenAccepting(max: number): Promise<void> {
    while (!this.accepts(max)) await (this.rejecting ? this.last : this.entries[0]!.done);
  }

  /** Settles when every append taken in so far has settled: true when all of them were stored. */
  settled(): Promise<boolean> {
    return this.last;
  }

  /**
   * Runs `f` once every append taken in so far has settled; appends taken in later settle after it.
   * For an append with nothing to write, which must still be answered in order.
   */
  afterSettled<R>(f: () => R): Promise<R> {
    const before = this.last;
    const run = before.then(f);
    this.pending++;
    const release = () => {
      this.release();
      return before;
    };
    this.last = run.then(release, release);
    return run;
  }

  /**
   * The end of `batches` when they follow the appends taken in so far; throws INVALID_REQUEST when
   * they do not, or `afterRejected()` when they follow appends that were rejected (a caller that did
   * not wait for them to settle: it may retry from the stored end).
   */
  follow(tp: TopicPartition, batches: readonly StoredBatch[], afterRejected: () => StorageError): number {
    const first = batches[0];
    if (first && first.baseOffset > this.accepted && first.baseOffset <= this.rejectedUpTo) {
      throw afterRejected();
    }
    return appendEnd(tp, this.accepted, batches);
  }

  /**
   * Takes in the append of the offsets from {@link acceptedEnd} up to `end`, whose write has started.
   * The promise settles after every append taken in before it, as `settlement` says: it resolves when
   * the write, `confirm` and every earlier append succeeded, and rejects with what `rejected` returns
   * otherwise.
   */
  add(end: number, write: Promise<unknown>, settlement: AppendSettlement, payload: T): Promise<void> {
    // A later append is stored only if the ones before it were; after a rejection, once all have
    // settled, appends start over from the stored end and owe nothing to the rejected ones.
    const earlier =
      this.entries.length > 0 ? this.last : this.pending > 0 ? this.last.then(() => true) : STORED;
    // Awaits `write` at once (so its rejection is handled), and takes its outcome in order.
    const settling = this.settle(end, write, settlement, earlier);
    const done = settling.then(
      () => true,
      () => false,
    );
    this.entries.push({ end, payload, done });
    this.pending++;
    this.accepted = end;
    this.last = done;
    return settling;
  }

  private async settle(
    end: number,
    write: Promise<unknown>,
    settlement: AppendSettlement,
    earlier: Promise<boolean>,
  ): Promise<void> {
    let failed = false;
    let error: unknown = null;
    try {
      await write;
    } catch (e) {
      failed = true;
      error = e;
    }
    const earlierStored = await earlier;
    if (!failed && earlierStored && settlement.confirm) {
      try {
        await settlement.confirm();
      } catch (e) {
        failed = true;
        error = e;
      }
    }
    this.entries.shift();
    if (!failed && earlierStored) {
      this.stored = end;
      this.release();
      settlement.stored?.();
      return;
    }
    this.rejectedUpTo = Math.max(this.rejectedUpTo, this.accepted);
    this.accepted = this.stored;
    this.rejectionCount++;
    this.rejecting = true;
    this.release();
    throw settlement.rejected(failed ? error : null);
  }

  /** One append or {@link afterSettled} call has settled. */
  private release(): void {
    this.pending--;
    // Nothing left that a rejection could still reject: appends may be taken in again.
    if (this.entries.length === 0) this.rejecting = false;
  }
}
