/**
 * Kafka's RangeAssignor, the Java consumer's default first assignor, so that `kch consume --group`
 * can share a group with Java consumers: members sorted by id, each topic's partitions split into
 * contiguous ranges over the members subscribed to it, the first `partitions % members` getting one
 * more. @platformatic/kafka assigns round-robin on its own (protocol name "roundrobin" in its
 * default), and takes any assignor as `partitionAssigner`: this is kch's.
 */
import type { GroupPartitionsAssigner } from '@platformatic/kafka';

/** The protocol name the group's members agree on (Kafka's name for this assignor). */
export const RANGE_ASSIGNOR = 'range';

/** memberId -> topic -> partitions. */
export function rangeAssign(
  subscriptions: ReadonlyMap<string, readonly string[]>,
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, Map<string, number[]>> {
  const plan = new Map<string, Map<string, number[]>>();
  for (const memberId of subscriptions.keys()) plan.set(memberId, new Map());
  const topics = [...new Set([...subscriptions.values()].flat())].sort();
  for (const topic of topics) {
    const count = partitionCounts.get(topic);
    if (count === undefined) continue;
    const members = [...subscriptions]
      .filter(([, t]) => t.includes(topic))
      .map(([m]) => m)
      .sort();
    const per = Math.floor(count / members.length);
    const extra = count % members.length;
    members.forEach((m, i) => {
      const start = per * i + Math.min(i, extra);
      const length = per + (i < extra ? 1 : 0);
      if (length === 0) return;
      plan.get(m)!.set(
        topic,
        Array.from({ length }, (_, k) => start + k),
      );
    });
  }
  return plan;
}

/** {@link rangeAssign} in the shape the library's group leader calls. */
export const rangeAssigner: GroupPartitionsAssigner = (_current, members, _topics, metadata) => {
  const subscriptions = new Map<string, string[]>();
  for (const [memberId, m] of members) subscriptions.set(memberId, m.topics ?? []);
  const counts = new Map<string, number>();
  for (const [topic, t] of metadata.topics) if (t) counts.set(topic, t.partitionsCount);
  return [...rangeAssign(subscriptions, counts)].map(([memberId, topics]) => ({
    memberId,
    assignments: new Map([...topics].map(([topic, partitions]) => [topic, { topic, partitions }])),
  }));
};
