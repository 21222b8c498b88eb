/**
 * The fences of one partition: where each of its leader epochs began, as a storage learned them from
 * `openPartition(tp, leadership)`. They hide the rows a deposed leader wrote late (an insert sent
 * before it lost the partition that landed after the new leader read the end): a row of leader epoch
 * r is visible only below the start of the first epoch after r (docs/architecture.md, "Many brokers").
 * Both storages keep one per partition; the ClickHouse storage turns it into a SQL condition once,
 * when it changes (./clickhouse/statements.ts `visibleUnderFences`).
 */
import type { LeaderEpochStart, PartitionLeadership, StoredBatch, TopicPartition } from './storage.js';
import { StorageError } from './storage.js';

/** Where a batch's partition leader epoch sits in its header (Kafka's RecordBatch, big-endian int32). */
const AT_PARTITION_LEADER_EPOCH = 12;

/** The partition leader epoch in a batch's header (-1 when the producer's value was kept). */
export function batchLeaderEpoch(b: StoredBatch): number {
  return b.bytes.readInt32BE(AT_PARTITION_LEADER_EPOCH);
}

export class LeaderFences {
  /** No fences: a partition of one broker, everything stored is visible. */
  static readonly NONE = new LeaderFences([]);

  /** Oldest epoch first; start offsets grow with epochs, as each leader began at the end it read. */
  private constructor(readonly starts: readonly LeaderEpochStart[]) {}

  get empty(): boolean {
    return this.starts.length === 0;
  }

  /** The newest epoch whose start is known, or null. */
  get latest(): LeaderEpochStart | null {
    return this.starts[this.starts.length - 1] ?? null;
  }

  /**
   * These fences and `starts`. An epoch whose start is known keeps it: a start only ever comes from
   * the end one leader read, and moving it would show late rows it hid.
   */
  with(starts: readonly LeaderEpochStart[]): LeaderFences {
    const known = new Map(this.starts.map((s) => [s.epoch, s.startOffset]));
    let changed = false;
    for (const s of starts) {
      if (known.has(s.epoch)) continue;
      known.set(s.epoch, s.startOffset);
      changed = true;
    }
    if (!changed) return this;
    const sorted = [...known]
      .sort((a, b) => a[0] - b[0])
      .map(([epoch, startOffset]) => ({ epoch, startOffset }));
    return new LeaderFences(sorted);
  }

  /**
   * The first offset at which rows of leader epoch `epoch` are hidden: the start of the first later
   * epoch, Infinity when none began after it.
   */
  limitOf(epoch: number): number {
    for (const s of this.starts) if (s.epoch > epoch) return s.startOffset;
    return Number.POSITIVE_INFINITY;
  }

  /** Whether some record of `b` lies where its epoch is fenced off. */
  hides(b: StoredBatch): boolean {
    return b.lastOffset >= this.limitOf(batchLeaderEpoch(b));
  }

  /**
   * The refusal of an append whose batches (some of them) these fences would hide: a broker appending
   * in an epoch that a later one has replaced. Nothing of it is stored, so it never becomes visible,
   * and the end stays where the current leader appends.
   */
  refusal(tp: TopicPartition, batches: readonly StoredBatch[]): StorageError | null {
    if (this.empty) return null;
    for (const b of batches) {
      if (!this.hides(b)) continue;
      const epoch = batchLeaderEpoch(b);
      return new StorageError(
        'FENCED',
        `append to ${tp.topic}-${tp.partition} in leader epoch ${epoch} at offset ${b.baseOffset}, but epoch ` +
          `${this.starts.find((s) => s.epoch > epoch)!.epoch} began at ${this.limitOf(epoch)}: this leader was replaced`,
        false,
      );
    }
    return null;
  }

  /**
   * These fences with `leadership.epochStarts`, after checking that the leadership is newer than what
   * this storage fenced the partition with (an older one is a deposed leader's).
   */
  before(tp: TopicPartition, leadership: PartitionLeadership): LeaderFences {
    const { epoch, epochStarts } = leadership;
    const bad = (why: string) =>
      new StorageError(
        'INVALID_REQUEST',
        `cannot open ${tp.topic}-${tp.partition} in leader epoch ${epoch}: ${why}`,
        false,
      );
    if (!Number.isInteger(epoch) || epoch < 0) throw bad('not a leader epoch');
    for (const s of epochStarts) {
      if (
        !Number.isInteger(s.epoch) ||
        s.epoch >= epoch ||
        !Number.isInteger(s.startOffset) ||
        s.startOffset < 0
      )
        throw bad(`its earlier epoch start ${JSON.stringify(s)} is invalid`);
    }
    const latest = this.latest;
    if (latest && latest.epoch > epoch)
      throw new StorageError(
        'FENCED',
        `cannot open ${tp.topic}-${tp.partition} in leader epoch ${epoch}: epoch ${latest.epoch} has begun since`,
        false,
      );
    return this.with(epochStarts);
  }
}
