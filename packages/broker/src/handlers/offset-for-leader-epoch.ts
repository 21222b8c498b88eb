import { ErrorCode } from '@kch/protocol';
import { defineHandler } from '../handler.js';
import { LEADER_EPOCH } from '../log/partition-log.js';

/**
 * OffsetForLeaderEpoch: consumers use it to detect truncation after a leader change. Every partition
 * has had one leader epoch (0) since it was created, and it ends at the high watermark.
 */
export default defineHandler({
  api: 'OffsetForLeaderEpoch',
  async handle(request, ctx) {
    const topics = [];
    for (const t of request.topics) {
      const topic = ctx.broker.topics.get(t.topic);
      const partitions = [];
      for (const p of t.partitions) {
        const log = topic?.logs[p.partition];
        if (!log) {
          partitions.push({
            partition: p.partition,
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            leaderEpoch: -1,
            endOffset: -1n,
          });
          continue;
        }
        if (p.currentLeaderEpoch > LEADER_EPOCH) {
          partitions.push({
            partition: p.partition,
            errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH,
            leaderEpoch: -1,
            endOffset: -1n,
          });
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
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          errorCode,
          leaderEpoch: -1,
          endOffset: -1n,
        })),
      })),
    };
  },
});
