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
 */
import { ErrorCode } from '@kch/protocol';
import type { BrokerContext } from '../context.js';

/** How long after records arrive the group's offsets follow (ms): one commit per burst. */
const COMMIT_DELAY_MS = 500;

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

  const commitDirty = () => {
    timer = null;
    const now = [...dirty];
    dirty.clear();
    running = running.then(() => Promise.all(now.map((g) => commitEnds(g))).then(() => {}));
    return running;
  };
  const schedule = () => {
    timer ??= setTimeout(() => void commitDirty(), COMMIT_DELAY_MS);
    timer.unref?.();
  };

  async function commitEnds(group: string): Promise<void> {
    const topics = [];
    for (const name of groups[group] ?? []) {
      const topic = ctx.topics.get(name);
      if (!topic) continue;
      const partitions = [];
      for (const log of topic.logs) {
        try {
          await log.open();
        } catch {
          continue; // storage unavailable: the next commit catches up
        }
        partitions.push({
          partitionIndex: log.partition,
          committedOffset: log.highWatermark,
          committedLeaderEpoch: -1,
          committedMetadata: null,
        });
      }
      topics.push({ name, partitions });
    }
    if (topics.length === 0) return;
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
      if (code !== undefined && !refused.has(group)) {
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
  void commitDirty();
  return {
    close() {
      ctx.events.off('produce', onProduce);
      if (timer) clearTimeout(timer);
      return commitDirty();
    },
  };
}
