import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { LEADER_EPOCH } from '../log/partition-log.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../security/acl-codes.js';
import { allowed, allowedNames } from '../security/authorize.js';

/**
 * OffsetForLeaderEpoch: consumers use it to detect truncation after a leader change. Every partition
 * has had one leader epoch (0) since it was created, and it ends at the high watermark.
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
        if (!log) {
          partitions.push(failed(p.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION));
          continue;
        }
        if (p.currentLeaderEpoch > LEADER_EPOCH) {
          partitions.push(failed(p.partition, ErrorCode.UNKNOWN_LEADER_EPOCH));
          continue;
        }
        await log.open();
        // An epoch we never had: Kafka answers UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET (-1, -1).
        const known = p.leaderEpoch === LEADER_EPOCH;
        partitions.push({
          partition: p.partition,
          errorCode: ErrorCode.NONE,
          leaderEpoch: known ? LEADER_EPOCH : -1,
          endOffset: known ? BigInt(log.highWatermark) : -1n,
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

/** A partition answered with an error: Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET. */
function failed(partition: number, errorCode: number) {
  return { partition, errorCode, leaderEpoch: -1, endOffset: -1n };
}
