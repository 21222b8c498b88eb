import { ErrorCode } from '@kch/protocol';
import type { LeaderEpochStart } from '@kch/storage';
import { servingError } from '../cluster/leader-hints.js';
import { defineHandler } from '../handler.js';
import { LEADER_EPOCH } from '../log/partition-log.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedNames } from '../security/authorize.js';

/**
 * OffsetForLeaderEpoch: consumers use it to detect truncation after a leader change. With one broker
 * every partition has had one leader epoch (0) since it was created; with several, the epochs and
 * where each began are recorded in the partition's ownership (../cluster/leadership.ts).
 */
export default defineHandler({
  api: 'OffsetForLeaderEpoch',
  async handle(request, ctx) {
    // A replica needs ClusterAction on the cluster; consumers (KIP-320) Describe on each topic.
    const names = request.topics.map((t) => t.topic);
    const describable = allowed(ctx, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME)
      ? new Set(names)
      : allowedNames(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, names);
    const topics = [];
    for (const t of request.topics) {
      const topic = ctx.broker.topics.get(t.topic);
      const partitions = [];
      for (const p of t.partitions) {
        const log = topic?.logs[p.partition];
        if (!describable.has(t.topic)) {
          partitions.push(failed(p.partition, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
          continue;
        }
        if (!log || !topic) {
          partitions.push(failed(p.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
          continue;
        }
        const refused = servingError(p.currentLeaderEpoch, topic, log, ctx.broker);
        if (refused !== ErrorCode.NONE) {
          partitions.push(failed(p.partition, refused));
          continue;
        }
        await log.open();
        const starts = ctx.broker.leadership?.epochStarts(topic.record.topicId, p.partition) ?? ONE_EPOCH;
        const [leaderEpoch, endOffset] = endOffsetFor(
          p.leaderEpoch,
          starts,
          log.leaderEpoch,
          log.highWatermark,
        );
        partitions.push({
          partition: p.partition,
          errorCode: ErrorCode.NONE,
          leaderEpoch,
          endOffset: BigInt(endOffset),
        });
      }
      topics.push({ topic: t.topic, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return {
      topics: request.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => failed(p.partition, errorCode)),
      })),
    };
  },
});

/** A partition served by one broker: one leader epoch since its creation. */
const ONE_EPOCH: readonly LeaderEpochStart[] = [{ epoch: LEADER_EPOCH, startOffset: 0 }];

/**
 * Kafka's LeaderEpochFileCache.endOffsetFor: the latest epoch ends at the log end; an earlier one
 * where the first later epoch began, answered with the largest known epoch not above it (or the asked
 * one when it is older than all); an unknown epoch or one past the latest gets UNDEFINED (-1, -1).
 */
export function endOffsetFor(
  requested: number,
  starts: readonly LeaderEpochStart[],
  latestEpoch: number,
  logEnd: number,
): [epoch: number, endOffset: number] {
  if (requested < 0) return [-1, -1];
  if (requested === latestEpoch) return [requested, logEnd];
  const higher = starts.find((s) => s.epoch > requested);
  if (!higher || requested > latestEpoch) return [-1, -1];
  let floor = requested;
  for (const s of starts) if (s.epoch <= requested) floor = s.epoch;
  return [floor, higher.startOffset];
}

/** A partition answered with an error: Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
function failed(partition: number, errorCode: number) {
  return { partition, errorCode, leaderEpoch: -1, endOffset: -1n };
}
