/**
 * What the broker metrics read from the broker when they are scraped rather than counted as events
 * happen: consumer groups and their members, committed offsets against the partitions' ends
 * (consumer lag: the high watermark, or the last stable offset for a group that reads committed, as a
 * read_committed consumer cannot read past it), and the high watermarks of partitions produced to
 * since start.
 */
import type { Broker } from './broker.js';
import { computeLag } from './groups/lag.js';

export interface GroupMembers {
  group: string;
  state: string;
  members: number;
}

export interface GroupPartitionOffset {
  group: string;
  topic: string;
  partition: number;
  committedOffset: number;
  /** Null when the partition's end could not be read (topic gone, storage unavailable). */
  lag: number | null;
}

export interface PartitionEnd {
  topic: string;
  partition: number;
  highWatermark: number;
}

export interface GroupsScrape {
  members: GroupMembers[];
  offsets: GroupPartitionOffset[];
  /** Of the partitions with committed offsets and of `produced`, each once, where it could be read. */
  highWatermarks: PartitionEnd[];
}

/**
 * Reads groups, committed offsets and high watermarks now. A partition's log is opened (read from
 * storage) if nothing used it since the broker started; `produced` lists partitions whose high
 * watermark is shown even without a group committing to them.
 */
export async function scrapeGroups(
  broker: Broker,
  produced: ReadonlyMap<string, ReadonlySet<number>>,
): Promise<GroupsScrape> {
  const { topics, groups, committedReaders } = broker.context;
  const scrape: GroupsScrape = { members: [], offsets: [], highWatermarks: [] };
  const ends = new Map<string, { highWatermark: number; lastStable: number } | null>();
  const endsOf = async (topic: string, partition: number) => {
    const key = `${topic}\u0000${partition}`;
    if (ends.has(key)) return ends.get(key)!;
    const log = topics.log(topic, partition);
    let end: { highWatermark: number; lastStable: number } | null = null;
    if (log) {
      try {
        await log.open();
        end = { highWatermark: log.highWatermark, lastStable: log.lastStableOffset };
      } catch {
        end = null; // storage unavailable: no lag for this partition in this scrape
      }
    }
    ends.set(key, end);
    if (end !== null) scrape.highWatermarks.push({ topic, partition, highWatermark: end.highWatermark });
    return end;
  };
  const highWatermark = async (topic: string, partition: number) =>
    (await endsOf(topic, partition))?.highWatermark ?? null;
  const lastStable = async (topic: string, partition: number) =>
    (await endsOf(topic, partition))?.lastStable ?? null;
  for (const g of groups.listGroups()) {
    const described = groups.describeGroup(g.groupId);
    scrape.members.push({ group: g.groupId, state: g.groupState, members: described.members.length });
    const endOffset = committedReaders.readsCommitted(g.groupId) ? lastStable : highWatermark;
    for (const row of await computeLag(groups.committedOffsets(g.groupId), endOffset)) {
      const { topic, partition, committedOffset, lag } = row;
      scrape.offsets.push({ group: g.groupId, topic, partition, committedOffset, lag });
    }
  }
  for (const [topic, partitions] of produced) for (const p of partitions) await endsOf(topic, p);
  return scrape;
}

export interface TransactionsScrape {
  open: number;
  /** High watermark minus last stable offset, for partitions where that is more than 0. */
  unstable: { topic: string; partition: number; lag: number }[];
}

/** Transactions open on this broker's coordinator, and the partitions held back by open ones. */
export function scrapeTransactions(broker: Broker): TransactionsScrape {
  const { transactions, topics } = broker.context;
  const open = transactions?.openCount() ?? 0;
  const unstable: TransactionsScrape['unstable'] = [];
  for (const t of topics.list())
    for (const log of t.logs) {
      const lag = log.highWatermark - log.lastStableOffset;
      if (lag > 0) unstable.push({ topic: log.topic, partition: log.partition, lag });
    }
  return { open, unstable };
}
