/**
 * Consumer lag from committed offsets, for tools (the CLI's `groups` command): how far each
 * partition's committed offset is behind the end of its log.
 */
import type { CommittedOffset, Storage } from '@kch/storage';

export interface PartitionLag {
  topic: string;
  partition: number;
  /** The committed offset: the next record the group will read. */
  committedOffset: number;
  /** The partition's end (high watermark); null when unknown (the topic is gone). */
  endOffset: number | null;
  /** endOffset - committedOffset, never negative; null when the end is unknown. */
  lag: number | null;
  metadata: string | null;
}

/** Committed offsets of every group storage knows, by group id. */
export async function committedOffsetsByGroup(storage: Storage): Promise<Map<string, CommittedOffset[]>> {
  const out = new Map<string, CommittedOffset[]>();
  for (const group of await storage.listOffsetGroups()) out.set(group, await storage.fetchOffsets(group));
  return out;
}

/**
 * Lag of each committed partition; `endOffset` gives a partition's end (e.g. from
 * `storage.openPartition` or the broker's partition logs), or null when the partition does not exist.
 */
export async function computeLag(
  committed: readonly CommittedOffset[],
  endOffset: (topic: string, partition: number) => number | null | Promise<number | null>,
): Promise<PartitionLag[]> {
  const rows: PartitionLag[] = [];
  for (const c of committed) {
    const end = await endOffset(c.topic, c.partition);
    rows.push({
      topic: c.topic,
      partition: c.partition,
      committedOffset: c.offset,
      endOffset: end,
      lag: end === null ? null : Math.max(0, end - c.offset),
      metadata: c.metadata,
    });
  }
  return rows.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
}
