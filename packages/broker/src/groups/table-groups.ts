/**
 * Consumer groups that stand for a table (the `group_name` of an integration `tables` entry, the
 * broker option `tableGroups`). With the ClickHouse Kafka engine or a sink connector, that group is
 * the one moving records into the table, and its lag is what dashboards watch. kch writes a bound
 * topic's rows when it acknowledges the produce, so nothing lags: the broker commits the partition
 * ends for the group, shortly after records arrive, and the group's lag reads zero, which is the truth.
 *
 * The commits go through the coordinator as an admin client's would (generation -1), so a group with
 * real members (someone consuming under that name) is left alone: its commits are refused and logged
 * once at debug level.
 *
 * With several brokers over one database, only the group's coordinator (the holder of its slot)
 * commits, and for every partition of its topics: the ends of those another broker leads are read
 * from storage, as their appends raise no event here, every {@link FOLLOW_INTERVAL_MS}.
 */
import { ErrorCode } from '@kch/protocol';
import type { BrokerContext } from '../context.js';
import type { PartitionLog } from '../log/partition-log.js';

/** How long after records arrive the group's offsets follow (ms): one commit per burst. */
const COMMIT_DELAY_MS = 500;

/** With several brokers, how often the coordinator reads the ends (ms): a commit only when they moved. */
const FOLLOW_INTERVAL_MS = 1_000;

export interface TableGroups {
  /** Commits what is pending and stops following the topics; for the broker's close. */
  close(): Promise<void>;
}

/**
 * Starts keeping each group's committed offsets at the ends of its topics. Commits once at start (so
 * the group shows up at once), after records arrive, and on close.
 */
export function keepTableGroupsAtEnd(
  ctx: BrokerContext,
  groups: Readonly<Record<string, readonly string[]>>,
): TableGroups {
  const byTopic = new Map<string, string[]>();
  for (const [group, topics] of Object.entries(groups)) {
    for (const t of topics) byTopic.set(t, [...(byTopic.get(t) ?? []), group]);
  }
  if (byTopic.size === 0) return { close: async () => {} };
  const dirty = new Set<string>(Object.keys(groups));
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  const refused = new Set<string>();
  /** The ends last committed for each group, to leave out commits that would change nothing. */
  const committed = new Map<string, string>();

  const commitDirty = () => {
    timer = null;
    // The groups are taken when the pass runs: passes queued behind a slow one find little to do.
    running = running.then(async () => {
      const now = [...dirty];
      dirty.clear();
      await Promise.all(now.map((g) => commitEnds(g)));
    });
    return running;
  };
  const schedule = () => {
    timer ??= setTimeout(() => void commitDirty(), COMMIT_DELAY_MS);
    timer.unref?.();
  };

  /** The partition's end: the log's where this broker leads it, else as stored; null when unknown. */
  async function endOf(log: PartitionLog): Promise<number | null> {
    try {
      if (log.isLeader) {
        await log.open();
        return log.highWatermark;
      }
      // Another broker leads it: this broker's log knows nothing of its appends.
      return (await ctx.storage.partitionEnd?.({ topic: log.topic, partition: log.partition })) ?? null;
    } catch {
      return null; // storage unavailable: the next commit catches up
    }
  }

  async function commitEnds(group: string): Promise<void> {
    // Another broker coordinates it (several brokers): that one commits. What this one committed is
    // forgotten, so that it commits afresh if the group comes back to it.
    if (!ctx.groups.coordinates(group)) {
      committed.delete(group);
      return;
    }
    const topics = [];
    for (const name of groups[group] ?? []) {
      const topic = ctx.topics.get(name);
      if (!topic) continue;
      const partitions = [];
      for (const log of topic.logs) {
        const end = await endOf(log);
        if (end === null) continue;
        partitions.push({
          partitionIndex: log.partition,
          committedOffset: end,
          committedLeaderEpoch: -1,
          committedMetadata: null,
        });
      }
      topics.push({ name, partitions });
    }
    if (topics.length === 0) return;
    const ends = JSON.stringify(topics);
    if (committed.get(group) === ends) return;
    committed.delete(group);
    try {
      const result = await ctx.groups.commitOffsets({
        groupId: group,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        apiVersion: 8,
        topics,
      });
      const code = result.flatMap((t) => t.partitions).find((p) => p.errorCode !== ErrorCode.NONE)?.errorCode;
      if (code === undefined) committed.set(group, ends);
      else if (!refused.has(group)) {
        refused.add(group);
        ctx.logger.debug('table group offsets not committed', { group, errorCode: code });
      }
    } catch (e) {
      ctx.logger.warn('table group offsets not committed', { group, error: e });
    }
  }

  const onProduce = (info: { topic: string }) => {
    const gs = byTopic.get(info.topic);
    if (!gs) return;
    for (const g of gs) dirty.add(g);
    schedule();
  };
  ctx.events.on('produce', onProduce);
  let follow: NodeJS.Timeout | undefined;
  if (ctx.topics.ledByCluster) {
    follow = setInterval(() => {
      for (const g of Object.keys(groups)) dirty.add(g);
      void commitDirty();
    }, FOLLOW_INTERVAL_MS);
    follow.unref?.();
  }
  void commitDirty();
  return {
    close() {
      ctx.events.off('produce', onProduce);
      if (timer) clearTimeout(timer);
      clearInterval(follow);
      return commitDirty();
    },
  };
}
